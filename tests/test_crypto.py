"""Signature schemes: Ed25519 and SM2-with-SM3 (user id 1234567812345678), and the key ring."""

from __future__ import annotations

import pytest
from gmssl import func, sm2

from anxin.crypto.schemes import KeyFormatError, Sm2Signer, generate_signer, load_verifier


@pytest.mark.parametrize("alg", ["ed25519", "sm2"])
def test_sign_verify_and_tamper(alg: str) -> None:
    signer = generate_signer(alg, b"seed" * 8)
    verifier = load_verifier(alg, signer.public_key_text)
    sig = signer.sign(b"record")
    assert len(sig) == 64
    assert verifier.verify(b"record", sig)
    assert not verifier.verify(b"recorD", sig)
    assert not verifier.verify(b"record", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not verifier.verify(b"record", sig[:63])
    assert not verifier.verify(b"record", b"\0" * 64)


def test_sm2_interoperates_with_an_independent_implementation() -> None:
    """gmssl (pure Python, GB/T 32918 with the default user id) verifies ours and we verify its."""
    ours = Sm2Signer.from_seed(b"interop!" * 4)
    other = sm2.CryptSM2(private_key=f"{ours.private_value:064x}", public_key=ours.public_key_text[2:])
    message = b'{"kind":"metering","seq":1}'
    assert other.verify_with_sm3(ours.sign(message).hex(), message)
    theirs = bytes.fromhex(other.sign_with_sm3(message, func.random_hex(other.para_len)))
    assert load_verifier("sm2", ours.public_key_text).verify(message, theirs)


@pytest.mark.parametrize(
    ("alg", "key"),
    [("ed25519", "not base64!"), ("ed25519", "AAAA"), ("sm2", "04" + "00" * 64), ("sm2", "zz"), ("rsa", "x")],
)
def test_bad_public_keys_are_named(alg: str, key: str) -> None:
    with pytest.raises(KeyFormatError):
        load_verifier(alg, key)
