"""The published test vectors (docs/vectors/vectors.json, contract v1.1 §E) against the
platform's code — canonical bytes (anxin.contract.canonical), signatures
(anxin.crypto.schemes, every SM2 backend here), the parser — and against independent
implementations: RFC 8785 (the ``rfc8785`` package), Python's json.dumps of the contract's
definition, and gmssl for SM2. The generator reproduces the file byte for byte."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from gmssl import sm2 as gm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anxin.contract.canonical import canonical_of_dict, canonical_of_line, canonical_reference
from anxin.contract.parse import Parsed, parse_line
from anxin.crypto.schemes import SM2_BACKENDS, Sm2Verifier, load_signer, load_verifier
from anxin.sdk import vectors

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "docs/vectors/vectors.json"
DOC = vectors.load(FILE)
KEYS = DOC["keys_by_name"]
ALL = DOC["vectors"]
IDS = [v["name"] for v in ALL]
PROPERTY = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def verdicts(v: dict[str, Any], message: bytes, sig: bytes) -> set[bool]:
    """The verdict of every verifier the platform has for the vector's key (one value: they agree)."""
    key = KEYS[v["verify_with"]]
    if key["alg"] == "sm2":
        return {Sm2Verifier(key["public_key"], backend=b).verify(message, sig) for b in SM2_BACKENDS}
    return {load_verifier("ed25519", key["public_key"]).verify(message, sig)}


def test_the_generator_reproduces_the_published_file(tmp_path: Path) -> None:
    out = tmp_path / "vectors.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "docs/vectors/generate.py"), "--out", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes() == FILE.read_bytes()


def test_what_the_vectors_cover() -> None:
    valid = [v for v in ALL if v["expect"] == "valid"]
    for alg in ("ed25519", "sm2"):
        kinds = {v["kind"] for v in valid if v["alg"] == alg}
        assert kinds == {"metering", "event", "verification"}  # every signed kind
        names = {v["name"].removesuffix("-" + alg) for v in ALL if v["alg"] == alg}
        for need in (
            "metering-unknown-fields",
            "metering-non-ascii",
            "metering-bounds",
            "metering-negative-temperature",
            "event-bounds-negative-temperature",
        ):
            assert need in names
        for must_fail in ("changed-byte", "wrong-key", "changed-signature"):
            (v,) = [v for v in ALL if v["name"] == f"metering-{alg}-{must_fail}"]
            assert v["expect"] == "invalid"
        assert sum(1 for v in ALL if v["alg"] == alg and v["name"].endswith("-reordered")) == 3
    texts = json.dumps([v["record"] for v in ALL], ensure_ascii=False)
    assert "9007199254740991" in texts and "-9007199254740991" in texts and "-18250" in texts
    assert any(ord(c) > 0xFFFF for c in texts) and "浙江省计量科学研究院" in texts


@pytest.mark.parametrize("v", ALL, ids=IDS)
def test_canonical_bytes_agree_with_rfc8785_and_the_contracts_definition(v: dict[str, Any]) -> None:
    line = v["line"].encode()
    expected = bytes.fromhex(v["canonical_hex"])
    assert canonical_of_line(line)[0] == expected  # the platform's fast path
    record = json.loads(line)
    assert record == v["record"]
    assert base64.b64decode(record.pop("sig"), validate=True).hex() == v["signature_hex"]
    assert rfc8785.dumps(record) == expected  # an independent RFC 8785 implementation
    assert canonical_reference(record) == expected  # contract v1 §4's json.dumps, verbatim
    assert canonical_of_dict(record) == expected


@pytest.mark.parametrize("v", ALL, ids=IDS)
def test_each_vector_parses_and_verifies_as_published(v: dict[str, Any]) -> None:
    line = v["line"].encode()
    parsed = parse_line(line)
    assert isinstance(parsed, Parsed), parsed
    assert type(parsed.rec).__name__.lower() == v["kind"]
    message = bytes.fromhex(v["canonical_hex"])
    sig = bytes.fromhex(v["signature_hex"])
    assert verdicts(v, message, sig) == {v["expect"] == "valid"}
    if v["kind"] != "verification":  # the parser hands a module record's canonical bytes and sig to the key ring
        assert parsed.canonical == message and parsed.sig == sig


@pytest.mark.parametrize("v", [v for v in ALL if v["expect"] == "valid"], ids=lambda v: v["name"])
def test_signatures_are_reproduced_from_the_published_keys(v: dict[str, Any]) -> None:
    key = KEYS[v["key"]]
    signer = load_signer(key["alg"], key["private_key"])
    assert signer.public_key_text == key["public_key"]
    message = bytes.fromhex(v["canonical_hex"])
    if key["alg"] == "ed25519":
        assert signer.sign(message).hex() == v["signature_hex"]  # Ed25519 is deterministic
        return
    nonce = int(v["nonce_hex"], 16)
    assert signer.sign_with_nonce(message, nonce).hex() == v["signature_hex"]  # type: ignore[union-attr]
    # gmssl, independently: the same signature from the same nonce, and it verifies ours.
    other = gm.CryptSM2(private_key=key["private_key"], public_key=key["public_key"][2:])
    assert other.sign_with_sm3(message, v["nonce_hex"]) == v["signature_hex"]
    assert other.verify_with_sm3(v["signature_hex"], message)


def test_the_sm2_key_a_is_the_standards_example_key() -> None:
    # GB/T 32918.5-2017's example key pair (tests/test_sm2_fast.py signs its known answer).
    assert KEYS["sm2-a"]["public_key"] == (
        "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
        "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
    )


def test_the_sdk_agrees_with_every_vector() -> None:
    assert vectors.check(DOC) == []

    def sign(alg: str, private: str, message: bytes, nonce: int | None) -> bytes:
        s = load_signer(alg, private)
        return s.sign(message) if nonce is None else s.sign_with_nonce(message, nonce)  # type: ignore[union-attr,return-value]

    assert vectors.check(DOC, sign=sign) == []
    # A canonical writer that escapes non-ASCII (a common mistake) is told where it differs.
    ascii_only = vectors.check(DOC, canonical=lambda line: canonical_reference_ascii(line))
    assert ascii_only and all("canonical bytes differ" in p for p in ascii_only)
    assert any("non-ascii" in p for p in ascii_only)


def canonical_reference_ascii(line: bytes) -> bytes:
    rec = json.loads(line)
    rec.pop("sig", None)
    return json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------- properties
VALID = [v for v in ALL if v["expect"] == "valid"]


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@PROPERTY
@given(st.sampled_from(VALID), st.randoms(use_true_random=False))
def test_any_reordering_of_the_keys_verifies_the_same(v: dict[str, Any], rng: random.Random) -> None:
    line = json.dumps(shuffled(copy.deepcopy(v["record"]), rng), ensure_ascii=False, separators=(",", ":")).encode()
    message, sig_text = canonical_of_line(line)
    assert message.hex() == v["canonical_hex"]
    assert verdicts(v, message, base64.b64decode(sig_text)) == {True}


@PROPERTY
@given(st.sampled_from(VALID), st.data())
def test_any_changed_byte_fails_or_leaves_the_signed_content_as_it_was(v: dict[str, Any], data: st.DataObject) -> None:
    """A line with one byte changed is rejected, or does not verify — unless the change
    left the signed content as it was (e.g. an unused bit of the base64 signature's last
    character): a signature never covers content it was not made for."""
    line = bytearray(v["line"].encode())
    pos = data.draw(st.integers(0, len(line) - 1), label="pos")
    line[pos] = data.draw(st.integers(0, 255).filter(lambda b: b != line[pos]), label="byte")
    parsed = parse_line(bytes(line))
    if not isinstance(parsed, Parsed):
        return  # the platform rejects the line
    message, sig_text = canonical_of_line(bytes(line))
    try:  # as the platform decodes it (anxin.contract.parse, anxin.crypto.keys)
        sig = binascii.a2b_base64(sig_text, strict_mode=True) if isinstance(sig_text, str) else b""
    except (binascii.Error, ValueError):
        sig = b""
    if verdicts(v, message, sig) == {True}:
        assert message.hex() == v["canonical_hex"]
        assert sig.hex() == v["signature_hex"]


def test_keys_beyond_the_basic_plane_are_where_rfc8785_and_python_differ() -> None:
    """Documented in docs/vectors/README.md: RFC 8785 sorts keys by UTF-16 code units, the
    contract's json.dumps (and the platform) by code points — they differ only between a
    key beyond U+FFFF and one in U+E000…U+FFFF. Contract keys are ASCII; the vectors keep
    to the Basic Multilingual Plane."""
    record = {"\uffff": 1, "\U0001f600": 2}
    assert canonical_reference(record) == canonical_of_line(json.dumps(record).encode())[0]
    assert rfc8785.dumps(record) != canonical_reference(record)
    keys = [k for v in ALL for k in _all_keys(v["record"])]
    assert keys and all(ord(c) <= 0xFFFF for k in keys for c in k)


def _all_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _all_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _all_keys(v)]
    return []
