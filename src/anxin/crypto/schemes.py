"""Ed25519 (cryptography) and SM2 with SM3 (GB/T 32918, Tongsuo through tongsuopy).

Both go through compiled, maintained libraries: OpenSSL for Ed25519, Tongsuo
(the OpenSSL fork of the Chinese commercial-cryptography community) for SM2.
SM2 signs ``Z_A ‖ M`` hashed with SM3, where ``Z_A`` depends on the signer's
user id; Tongsuo's default user id is the standard's ``1234567812345678``,
which the contract prescribes (checked against an independent implementation
in tests). Signatures on the wire are raw 64 bytes (``r‖s`` for SM2).
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization as c_ser
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from tongsuopy.crypto import hashes as t_hashes
from tongsuopy.crypto import serialization as t_ser
from tongsuopy.crypto.asymciphers import ec as t_ec
from tongsuopy.crypto.exceptions import InvalidSignature as TInvalidSignature

KeyAlg = Literal["ed25519", "sm2"]
ALGORITHMS: tuple[str, ...] = ("ed25519", "sm2")
SM2_USER_ID = b"1234567812345678"


class KeyFormatError(ValueError):
    pass


class Verifier(Protocol):
    alg: str

    def verify(self, message: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    alg: str
    public_key_text: str

    def sign(self, message: bytes) -> bytes: ...


class Ed25519Verifier:
    alg = "ed25519"

    def __init__(self, public_key_text: str) -> None:
        try:
            raw = base64.b64decode(public_key_text, validate=True)
            self._key = Ed25519PublicKey.from_public_bytes(raw)
        except (binascii.Error, ValueError) as exc:
            raise KeyFormatError("Ed25519 public_key must be base64 of 32 raw bytes") from exc

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Sm2Verifier:
    alg = "sm2"
    _sm3 = t_ec.ECDSA(t_hashes.SM3())

    def __init__(self, public_key_text: str) -> None:
        try:
            point = bytes.fromhex(public_key_text)
            if len(point) != 65 or point[0] != 4:
                raise ValueError("not an uncompressed point")
            self._key = t_ec.EllipticCurvePublicKey.from_encoded_point(t_ec.SM2(), point)
        except Exception as exc:  # tongsuopy raises several types for a bad point
            raise KeyFormatError(
                "SM2 public_key must be hex of the uncompressed point 04‖X‖Y on the SM2 curve"
            ) from exc

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (r and s):
            return False
        try:
            self._key.verify(encode_dss_signature(r, s), message, self._sm3)
        except (TInvalidSignature, ValueError):
            return False
        return True


def load_verifier(alg: str, public_key_text: str) -> Verifier:
    if alg == "ed25519":
        return Ed25519Verifier(public_key_text)
    if alg == "sm2":
        return Sm2Verifier(public_key_text)
    raise KeyFormatError(f"unknown key_alg {alg!r} (expected ed25519 or sm2)")


class Ed25519Signer:
    alg = "ed25519"

    def __init__(self, private: Ed25519PrivateKey | None = None) -> None:
        self._key = private or Ed25519PrivateKey.generate()
        raw = self._key.public_key().public_bytes(c_ser.Encoding.Raw, c_ser.PublicFormat.Raw)
        self.public_key_text = base64.b64encode(raw).decode()

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed[:32]))

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class Sm2Signer:
    alg = "sm2"
    _sm3 = t_ec.ECDSA(t_hashes.SM3())

    def __init__(self, private_value: int | None = None) -> None:
        if private_value is None:
            self._key = t_ec.generate_private_key(t_ec.SM2())
        else:
            self._key = t_ec.derive_private_key(private_value, t_ec.SM2())
        point = self._key.public_key().public_bytes(t_ser.Encoding.X962, t_ser.PublicFormat.UncompressedPoint)
        self.public_key_text = point.hex()

    @classmethod
    def from_seed(cls, seed: bytes) -> Sm2Signer:
        # SM2 order n is just below 2^256; reduce into [1, n-1].
        n = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
        return cls(int.from_bytes(seed[:32], "big") % (n - 1) + 1)

    @property
    def private_value(self) -> int:
        return self._key.private_numbers().private_value

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(message, self._sm3))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def generate_signer(alg: str, seed: bytes | None = None) -> Signer:
    if alg == "ed25519":
        return Ed25519Signer.from_seed(seed) if seed else Ed25519Signer()
    if alg == "sm2":
        return Sm2Signer.from_seed(seed) if seed else Sm2Signer()
    raise KeyFormatError(f"unknown key_alg {alg!r}")
