"""The platform's own signing key (平台签名密钥): it signs what leaves the platform as
evidence — the manifest of a case's evidence bundle — so that a court can tell a bundle
the platform exported from one altered and re-signed by anybody else.

* **The key.** Ed25519 by default, SM2 (with SM3, user id ``1234567812345678``) on
  request (``signing_key_alg = "sm2"``). Made on first use and kept in the database
  (``platform_keys``), or configured: ``ANXIN_SIGNING_KEY_FILE`` (or ``signing_key``) names
  a file holding a PKCS#8 PEM Ed25519 private key (``openssl genpkey -algorithm
  ed25519``), or ``ed25519:<64 hex digits>`` (the 32-byte seed), or ``sm2:<64 hex
  digits>`` (the private scalar). A configured key's public half is recorded in
  ``platform_keys`` (its private half never is).
* **Its id**: ``anxin-<alg>-<16 hex digits of SHA-256("<alg>:<public key>")>``.
* **Published**: in every bundle (``MANIFEST.sig.json``), at ``GET /v1/platform/keys``
  (no login), and by ``anxin bundle key`` — to be printed in the regulator's own
  documents, so that a verifier need not take the bundle's word for it.
* **The signature**: over the exact bytes of ``MANIFEST.json`` (which holds the SHA-256
  of every other file), base64, in ``MANIFEST.sig.json``::

      {"format": "anxin-manifest-signature/1", "alg": "ed25519", "key_id": "anxin-ed25519-…",
       "public_key": "<as in the registry: base64 (Ed25519) or hex 04‖X‖Y (SM2)>",
       "signature": "<base64>", "timestamp": "MANIFEST.tsr" | null}

The key, its id and the signature are here; keeping the key in the database is
:mod:`.service`'s (:func:`platform_key`), listing the published keys :mod:`.queries`'
(:func:`published_keys`) — both re-exported here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from anxin.crypto.schemes import Ed25519Signer, KeyFormatError, Signer, Sm2Signer, load_verifier
from anxin.crypto.sm2 import N as SM2_N
from anxin.keyed import Message
from anxin.store.database import Store

SIGNATURE_FORMAT = "anxin-manifest-signature/1"
ALGORITHMS = ("ed25519", "sm2")


def key_id_of(alg: str, public_key: str) -> str:
    return f"anxin-{alg}-{hashlib.sha256(f'{alg}:{public_key}'.encode()).hexdigest()[:16]}"


@dataclass(frozen=True, slots=True)
class PlatformKey:
    alg: str
    public_key: str
    signer: Signer

    @property
    def key_id(self) -> str:
        return key_id_of(self.alg, self.public_key)

    def public(self) -> dict[str, str]:
        return {"key_id": self.key_id, "alg": self.alg, "public_key": self.public_key}


def _from_private(alg: str, raw: bytes) -> Signer:
    if alg == "sm2":
        return Sm2Signer(int.from_bytes(raw, "big"))
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(raw))


def parse_key_text(text: str) -> tuple[str, Signer]:
    """(alg, signer) of a configured key: PKCS#8 PEM (Ed25519), ``ed25519:<hex seed>``
    or ``sm2:<hex scalar>``. Raises KeyFormatError naming the problem."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError("pem_unreadable", detail=str(exc)) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError("pem_not_ed25519")
        return "ed25519", Ed25519Signer(key)
    alg, _, hexa = text.partition(":")
    if alg not in ALGORITHMS:
        raise KeyFormatError("signing_key_form")
    try:
        raw = bytes.fromhex(hexa)
    except ValueError:
        raise KeyFormatError("signing_key_hex", alg=alg) from None
    if len(raw) != 32 or (alg == "sm2" and not 0 < int.from_bytes(raw, "big") < SM2_N):
        raise KeyFormatError("signing_key_size", alg=alg)
    return alg, _from_private(alg, raw)


def configured_key(store: Store, config: object | None) -> PlatformKey:
    """:func:`platform_key` as ``anxin serve``'s configuration says (``signing_key``,
    ``signing_key_alg``; no configuration: a made Ed25519 key)."""
    return platform_key(
        store,
        key_text=getattr(config, "signing_key", None),
        alg=getattr(config, "signing_key_alg", None) or "ed25519",
    )


def sign_manifest(manifest: bytes, key: PlatformKey, *, timestamp: str | None = None) -> dict[str, object]:
    """The ``MANIFEST.sig.json`` document for these manifest bytes."""
    return {
        "format": SIGNATURE_FORMAT,
        **key.public(),
        "signature": base64.b64encode(key.signer.sign(manifest)).decode(),
        "timestamp": timestamp,
    }


def _problem(key: str, /, **params: object) -> Message:
    """What is wrong with a signature document: a key of the catalog's ``bundle_check``
    table (the report of ``anxin bundle verify`` words it)."""
    return Message(ctx="bundle_check", key=key, params=params)


def check_manifest_signature(manifest: bytes, doc: object) -> tuple[Message | None, str | None]:
    """(problem or None, the signer's ``alg:public_key`` or None) of a signature document."""
    if not isinstance(doc, dict) or doc.get("format") != SIGNATURE_FORMAT:
        return _problem("sig_not_document", format=SIGNATURE_FORMAT), None
    alg, public_key, sig = doc.get("alg"), doc.get("public_key"), doc.get("signature")
    if not (isinstance(alg, str) and isinstance(public_key, str) and isinstance(sig, str)):
        return _problem("sig_incomplete"), None
    try:
        verifier = load_verifier(alg, public_key)
    except KeyFormatError as exc:
        return _problem("sig_key_unreadable", error=exc.message), None
    try:
        raw = base64.b64decode(sig, validate=True)
    except binascii.Error:
        return _problem("sig_not_base64"), None
    signer = f"{alg}:{public_key}"
    if doc.get("key_id") != key_id_of(alg, public_key):
        return _problem("sig_key_id", key_id=str(doc.get("key_id"))), signer
    if not verifier.verify(manifest, raw):
        return _problem("sig_bad"), signer
    return None, signer


def trusted_from(values: list[str]) -> set[str]:
    """Trusted keys given on the command line: each a public key text (base64 Ed25519 or
    hex SM2), ``alg:public_key``, a file holding one, or the JSON of
    ``GET /v1/platform/keys`` (every key in it). Returned as ``alg:public_key``."""
    import json

    out: set[str] = set()
    for value in values:
        text = value
        path = Path(value)
        if len(value) < 4096 and path.is_file():
            text = path.read_text(encoding="utf-8").strip()
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("keys"), list):
            out.update(f"{k['alg']}:{k['public_key']}" for k in doc["keys"] if isinstance(k, dict))
            continue
        if ":" in text and text.split(":", 1)[0] in ALGORITHMS:
            out.add(text)
        else:
            out.add(f"{'sm2' if len(text) == 130 and text.startswith('04') else 'ed25519'}:{text}")
    return out


# The statements (they use the key above: imported last).
from anxin.supervision.signing.queries import published_keys  # noqa: E402
from anxin.supervision.signing.service import platform_key  # noqa: E402

__all__ = [
    "PlatformKey",
    "check_manifest_signature",
    "configured_key",
    "key_id_of",
    "parse_key_text",
    "platform_key",
    "published_keys",
    "sign_manifest",
    "trusted_from",
]
