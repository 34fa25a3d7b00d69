"""Ed25519 (cryptography) and SM2 with SM3 (GB/T 32918).

Ed25519 goes through OpenSSL. SM2 verification has three backends with the same
verdicts, the first available taken (docs/performance.md, "SM2 backend"):

* ``c``: anxin's own compiled verifier (``anxin.crypto._sm2fast``, built from
  ``_sm2fast.c`` when the package is installed on a machine with a C compiler; a
  precomputed table per public key), ≈ 0.3× Ed25519's time;
* ``tongsuo``: Tongsuo (the OpenSSL fork of the Chinese commercial-cryptography
  community, through tongsuopy: the ``sm2`` extra, x86_64 wheels), ≈ 2.5× Ed25519's;
* ``python``: the pure-Python ``anxin.crypto.sm2`` (a station gateway on 32-bit ARM, a
  minimal install without a compiler), slower by another order of magnitude.

``ANXIN_SM2_BACKEND=tongsuo`` skips the compiled verifier, ``ANXIN_SM2_BACKEND=python``
uses only the pure-Python code (for signing too). Signing uses Tongsuo when it is
installed, else the pure-Python code.
SM2 signs ``Z_A ‖ M`` hashed with SM3, where ``Z_A`` depends on the signer's user id;
the contract prescribes the standard's ``1234567812345678`` (Tongsuo's default;
checked against an independent implementation in tests). Signatures on the wire are
raw 64 bytes (``r‖s`` for SM2).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from types import SimpleNamespace
from typing import Any, Literal, Protocol

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

from anxin.crypto import sm2 as _py_sm2
from anxin.keyed import KeyedError

KeyAlg = Literal["ed25519", "sm2"]
ALGORITHMS: tuple[str, ...] = ("ed25519", "sm2")
SM2_USER_ID = _py_sm2.DEFAULT_USER_ID


_SM2_CHOICE = os.environ.get("ANXIN_SM2_BACKEND", "").lower()  # "", "c", "tongsuo" or "python"


def _tongsuo() -> Any:
    """tongsuopy's modules, or None when Tongsuo is not installed (or is switched off with
    ``ANXIN_SM2_BACKEND=python``)."""
    if _SM2_CHOICE == "python":
        return None
    try:
        from tongsuopy.crypto import hashes
        from tongsuopy.crypto.asymciphers import ec
        from tongsuopy.crypto.exceptions import InvalidSignature
    except ImportError:
        return None
    return SimpleNamespace(ec=ec, InvalidSignature=InvalidSignature, ecdsa_sm3=ec.ECDSA(hashes.SM3()))


def _compiled() -> Any:
    """anxin's compiled SM2 verifier, or None where the package was built without it (no C
    compiler) or ``ANXIN_SM2_BACKEND=python``."""
    if _SM2_CHOICE == "python":
        return None
    try:
        import anxin.crypto._sm2fast as _sm2fast
    except ImportError:
        return None
    return _sm2fast


_TONGSUO = _tongsuo()
_SM2FAST = _compiled()
# The SM2 verification backends available here, fastest first; the default is the first
# one ANXIN_SM2_BACKEND does not skip.
SM2_BACKENDS: tuple[str, ...] = (*(["c"] if _SM2FAST else []), *(["tongsuo"] if _TONGSUO else []), "python")
SM2_BACKEND = next(b for b in SM2_BACKENDS if not (_SM2_CHOICE == "tongsuo" and b == "c"))
logging.getLogger("anxin.crypto").info(
    "sm2 backend: %s",
    {
        "c": "compiled (anxin.crypto._sm2fast)",
        "tongsuo": "Tongsuo" + ("" if _SM2FAST or _SM2_CHOICE else " (anxin was built without a C compiler)"),
        "python": "pure Python (no C compiler when anxin was built, and no anxin[sm2])",
    }[SM2_BACKEND],
)


class KeyFormatError(KeyedError, ValueError):
    """A key that cannot be read: a key of the catalog's ``key_error`` table and what
    is wrong (``exc.text(lang)``)."""

    context = "key_error"


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
            raise KeyFormatError("ed25519_public") from exc

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Sm2Verifier:
    """An SM2 public key ready to verify; ``backend`` (one of :data:`SM2_BACKENDS`)
    overrides the default :data:`SM2_BACKEND` (tests and benchmarks compare them)."""

    alg = "sm2"

    def __init__(self, public_key_text: str, backend: str | None = None) -> None:
        self.backend = backend or SM2_BACKEND
        if self.backend not in SM2_BACKENDS:
            raise ValueError(f"SM2 backend {self.backend!r} is not available here: {SM2_BACKENDS}")
        self._table = b""
        try:
            point = bytes.fromhex(public_key_text)
            if len(point) != 65 or point[0] != 4:
                raise ValueError("not an uncompressed point")
            if self.backend == "c":
                self._table = _SM2FAST.public_table(point)  # ValueError off the curve
                self._za = _py_sm2.user_hash((int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")))
            elif self.backend == "tongsuo":
                self._key = _TONGSUO.ec.EllipticCurvePublicKey.from_encoded_point(_TONGSUO.ec.SM2(), point)
            else:
                self._key = _py_sm2.PublicKey.from_uncompressed(point)
        except Exception as exc:  # tongsuopy raises several types for a bad point
            raise KeyFormatError("sm2_public") from exc

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != 64:
            return False
        if self._table:
            return bool(_SM2FAST.verify(self._table, self._za, message, signature))
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (r and s):
            return False
        if self.backend == "python":
            return self._key.verify(message, r, s)
        try:
            self._key.verify(encode_dss_signature(r, s), message, _TONGSUO.ecdsa_sm3)
        except (_TONGSUO.InvalidSignature, ValueError):
            return False
        return True


def load_verifier(alg: str, public_key_text: str) -> Verifier:
    if alg == "ed25519":
        return Ed25519Verifier(public_key_text)
    if alg == "sm2":
        return Sm2Verifier(public_key_text)
    raise KeyFormatError("unknown_alg", alg=alg)


class Ed25519Signer:
    alg = "ed25519"

    def __init__(self, private: Ed25519PrivateKey | None = None) -> None:
        self._key = private or Ed25519PrivateKey.generate()
        raw = self._key.public_key().public_bytes(c_ser.Encoding.Raw, c_ser.PublicFormat.Raw)
        self.public_key_text = base64.b64encode(raw).decode()

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(seed[:32]))

    @property
    def private_key_text(self) -> str:
        """Base64 of the raw 32-byte private key (RFC 8032's seed), as the vendor SDK keeps it."""
        raw = self._key.private_bytes(c_ser.Encoding.Raw, c_ser.PrivateFormat.Raw, c_ser.NoEncryption())
        return base64.b64encode(raw).decode()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class Sm2Signer:
    alg = "sm2"

    def __init__(self, private_value: int | None = None) -> None:
        self.private_value = secrets.randbelow(_py_sm2.N - 1) + 1 if private_value is None else private_value
        if _TONGSUO is not None:
            self._key = _TONGSUO.ec.derive_private_key(self.private_value, _TONGSUO.ec.SM2())
            pub = self._key.public_key().public_numbers()
            point = (pub.x, pub.y)
        else:
            point = _py_sm2.base_mult(self.private_value)
        self.public_key_text = (b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")).hex()
        self._za = _py_sm2.user_hash(point)

    @classmethod
    def from_seed(cls, seed: bytes) -> Sm2Signer:
        # SM2 order n is just below 2^256; reduce into [1, n-1].
        return cls(int.from_bytes(seed[:32], "big") % (_py_sm2.N - 1) + 1)

    @property
    def private_key_text(self) -> str:
        """Hex of the 32-byte private value d, as the vendor SDK keeps it."""
        return f"{self.private_value:064x}"

    def sign_with_nonce(self, message: bytes, nonce: int) -> bytes | None:
        """The signature with the given nonce k (1 ≤ k < n), or None when that k is unusable.
        Only for reproducible test vectors: a device signs with a fresh nonce (:meth:`sign`)."""
        rs = _py_sm2.sign_with_nonce(self.private_value, self._za, message, nonce, x1=sm2_base_x(nonce))
        return None if rs is None else rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big")

    def sign(self, message: bytes) -> bytes:
        if _TONGSUO is not None:
            r, s = decode_dss_signature(self._key.sign(message, _TONGSUO.ecdsa_sm3))
        else:
            rs = None
            while rs is None:
                rs = _py_sm2.sign_with_nonce(
                    self.private_value, self._za, message, secrets.randbelow(_py_sm2.N - 1) + 1
                )
            r, s = rs
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sm2_base_x(k: int) -> int:
    """The x coordinate of k·G, by the fastest backend there is (deterministic signers)."""
    if _TONGSUO is not None:
        return int(_TONGSUO.ec.derive_private_key(k, _TONGSUO.ec.SM2()).public_key().public_numbers().x)
    return _py_sm2.base_mult(k)[0]


def load_signer(alg: str, private_key_text: str) -> Ed25519Signer | Sm2Signer:
    """A signer from its private key as text: Ed25519 — base64 of the 32 raw bytes; SM2 — 64
    hex digits of d (1 ≤ d ≤ n − 2). A malformed key is a :class:`KeyFormatError`."""
    if alg == "ed25519":
        try:
            raw = base64.b64decode(private_key_text, validate=True)
            if len(raw) != 32:
                raise ValueError("not 32 bytes")
        except (binascii.Error, ValueError) as exc:
            raise KeyFormatError("ed25519_private") from exc
        return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(raw))
    if alg == "sm2":
        text = private_key_text.strip()
        if len(text) != 64 or not all(c in "0123456789abcdefABCDEF" for c in text):
            raise KeyFormatError("sm2_private")
        d = int(text, 16)
        if not 1 <= d <= _py_sm2.N - 2:
            raise KeyFormatError("sm2_private")
        return Sm2Signer(d)
    raise KeyFormatError("unknown_alg", alg=alg)


def generate_signer(alg: str, seed: bytes | None = None) -> Signer:
    if alg == "ed25519":
        return Ed25519Signer.from_seed(seed) if seed else Ed25519Signer()
    if alg == "sm2":
        return Sm2Signer.from_seed(seed) if seed else Sm2Signer()
    raise KeyFormatError("unknown_alg", alg=alg)
