"""Key pairs for a module vendor: generate one, keep its private half as text, hand its
public half to the regulator (the registry's ``key_alg`` and ``public_key``, contract §2).

The signing itself is :mod:`anxin.crypto.schemes`' (the platform's own code): a
:class:`KeyPair` only names a signer and its texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from anxin.crypto.schemes import (
    ALGORITHMS,
    Ed25519Signer,
    KeyFormatError,
    Sm2Signer,
    generate_signer,
    load_signer,
)

__all__ = ["ALGORITHMS", "KeyFormatError", "KeyPair", "new_key", "load_key"]


@dataclass(frozen=True)
class KeyPair:
    """A module's signing key: ``alg`` (``ed25519`` or ``sm2``), ``private_key`` (Ed25519:
    base64 of the 32 raw bytes; SM2: 64 hex digits of d — the secret, kept in the module's
    secure element), ``public_key`` (what the registry lists: Ed25519 base64 of the 32 raw
    bytes, SM2 hex of the uncompressed point ``04‖X‖Y``)."""

    alg: str
    private_key: str = field(repr=False)
    public_key: str
    signer: Ed25519Signer | Sm2Signer = field(repr=False, compare=False)

    def registry_entry(self, key_id: str) -> dict[str, str]:
        """The nozzle's key fields as the registry lists them (contract §2)."""
        return {"key_alg": self.alg, "key_id": key_id, "public_key": self.public_key}


def _pair(signer: Ed25519Signer | Sm2Signer) -> KeyPair:
    return KeyPair(signer.alg, signer.private_key_text, signer.public_key_text, signer)


def new_key(alg: str = "ed25519") -> KeyPair:
    """A fresh key pair from the operating system's randomness."""
    signer = generate_signer(alg)
    assert isinstance(signer, Ed25519Signer | Sm2Signer)
    return _pair(signer)


def load_key(alg: str, private_key: str) -> KeyPair:
    """The key pair of a private key kept as text (:attr:`KeyPair.private_key`); a
    malformed one is a :class:`KeyFormatError`."""
    return _pair(load_signer(alg, private_key))
