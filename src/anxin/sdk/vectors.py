"""The published test vectors (contract v1.1 §E, ``docs/vectors/vectors.json``, made by
``docs/vectors/generate.py``): check an implementation of canonical bytes and signing
against them — the SDK's own by default, a vendor's through ``canonical`` and ``sign``.

Each vector: ``line`` (the record as sent), ``record`` (the same as a JSON object),
``canonical_hex``, ``signature_hex``, the ``key`` that signed it, the key to verify with
(``verify_with``), and ``expect``: ``valid`` or ``invalid`` (a changed byte, a wrong key,
a changed signature). SM2 signatures carry their nonce (``nonce_hex``): a vendor's signer
given that nonce must reproduce them; a device signs with a fresh one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anxin.sdk.records import canonical_bytes, validate, verify

__all__ = ["load", "check"]

# sign(alg, private_key_text, message, nonce or None) -> 64 signature bytes
SignFn = Callable[[str, str, bytes, int | None], bytes]


def load(path: str | Path) -> dict[str, Any]:
    """The vectors document; ``keys`` indexed by name as ``keys_by_name``."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    doc["keys_by_name"] = {k["name"]: k for k in doc["keys"]}
    return doc


def check(
    doc: dict[str, Any],
    *,
    canonical: Callable[[bytes], bytes] = canonical_bytes,
    sign: SignFn | None = None,
) -> list[str]:
    """Every disagreement with the vectors (empty: all agree). ``canonical(line)`` gives the
    canonical bytes of a line as received; ``sign``, when given, must reproduce each valid
    vector's signature (Ed25519 is deterministic; SM2 with the vector's nonce)."""
    keys = doc["keys_by_name"]
    problems: list[str] = []
    for v in doc["vectors"]:
        name, line = v["name"], v["line"].encode()
        if canonical(line) != bytes.fromhex(v["canonical_hex"]):
            problems.append(f"{name}: canonical bytes differ")
        if (reason := validate(line)) is not None:
            problems.append(f"{name}: the platform would reject it: {reason}")
        key = keys[v["verify_with"]]
        if verify(line, key["public_key"], key["alg"]) != (v["expect"] == "valid"):
            problems.append(f"{name}: expected {v['expect']}")
        if sign is not None and v["expect"] == "valid":
            signer = keys[v["key"]]
            nonce = int(v["nonce_hex"], 16) if v.get("nonce_hex") else None
            got = sign(signer["alg"], signer["private_key"], bytes.fromhex(v["canonical_hex"]), nonce)
            if got != bytes.fromhex(v["signature_hex"]):
                problems.append(f"{name}: signature differs")
    return problems
