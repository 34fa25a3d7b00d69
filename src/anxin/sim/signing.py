"""Deterministic device keys and signatures for the simulator.

Keys are derived from (seed, nozzle id) with SHA-256, so a city is reproducible.
Ed25519 signatures are deterministic by construction. SM2 signatures need a
nonce ``k``; Tongsuo draws it at random, which would make two runs of the same
city differ in every SM2 line. The simulator therefore signs SM2 itself with a
deterministic nonce (hash of the private key and the message digest, in the
spirit of RFC 6979): ``e = SM3(Z_A ‖ M)``, ``(x1, ·) = k·G`` (computed by Tongsuo),
``r = (e + x1) mod n``, ``s = (1 + d)⁻¹ (k − r·d) mod n`` — GB/T 32918.2 — and the
result verifies with the platform's ordinary SM2 verifier.
"""

from __future__ import annotations

import hashlib

from tongsuopy.crypto import hashes as t_hashes
from tongsuopy.crypto.asymciphers import ec as t_ec

from anxin.crypto.schemes import SM2_USER_ID, Ed25519Signer, Signer, Sm2Signer

# SM2 recommended curve (GB/T 32918.5).
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
SM2_A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
SM2_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
SM2_GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
SM2_GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0


def derive_seed(*parts: object) -> bytes:
    """32 bytes from the parts, stable across runs and platforms."""
    text = "\x1f".join(str(p) for p in ("anxin-sim", *parts))
    return hashlib.sha256(text.encode()).digest()


def derive_int(*parts: object) -> int:
    """A 64-bit integer seed for random generators."""
    return int.from_bytes(derive_seed(*parts)[:8], "big")


def _sm3(data: bytes) -> bytes:
    h = t_hashes.Hash(t_hashes.SM3())
    h.update(data)
    return h.finalize()


def _b32(x: int) -> bytes:
    return x.to_bytes(32, "big")


class DeterministicSm2Signer:
    """SM2-with-SM3 signer (user id 1234567812345678) with a deterministic nonce."""

    alg = "sm2"

    def __init__(self, seed: bytes) -> None:
        inner = Sm2Signer.from_seed(seed)
        self.public_key_text = inner.public_key_text
        self._d = inner.private_value
        point = bytes.fromhex(self.public_key_text)
        entl = (len(SM2_USER_ID) * 8).to_bytes(2, "big")
        self._za = _sm3(
            entl + SM2_USER_ID + _b32(SM2_A) + _b32(SM2_B) + _b32(SM2_GX) + _b32(SM2_GY) + point[1:33] + point[33:65]
        )
        self._inv_1d = pow(1 + self._d, -1, SM2_N)
        self._dbytes = _b32(self._d)

    def sign(self, message: bytes) -> bytes:
        digest = _sm3(self._za + message)
        e = int.from_bytes(digest, "big")
        d = self._d
        counter = 0
        while True:
            kb = hashlib.sha512(self._dbytes + digest + counter.to_bytes(4, "big")).digest()
            k = int.from_bytes(kb, "big") % (SM2_N - 1) + 1
            x1 = t_ec.derive_private_key(k, t_ec.SM2()).public_key().public_numbers().x
            r = (e + x1) % SM2_N
            if r and r + k != SM2_N:
                s = self._inv_1d * (k - r * d) % SM2_N
                if s:
                    return _b32(r) + _b32(s)
            counter += 1


def device_signer(seed: int, key_id: str, alg: str) -> Signer:
    """The signer of a device key, derived from the city seed and the key id."""
    raw = derive_seed("key", seed, key_id)
    if alg == "ed25519":
        return Ed25519Signer.from_seed(raw)
    if alg == "sm2":
        return DeterministicSm2Signer(raw)
    raise ValueError(f"unknown key_alg {alg!r}")
