"""Deterministic device keys and signatures for the simulator.

Keys are derived from (seed, nozzle id) with SHA-256, so a city is reproducible.
Ed25519 signatures are deterministic by construction. SM2 signatures need a
nonce ``k``; drawn at random, it would make two runs of the same city differ in
every SM2 line. The simulator therefore signs SM2 with a deterministic nonce (hash
of the private key and the message digest, in the spirit of RFC 6979), through
``anxin.crypto.sm2.sign_with_nonce`` (``k·G`` by the compiled backend where it is
installed), and the result verifies with the platform's ordinary SM2 verifier.
"""

from __future__ import annotations

import hashlib

from anxin.crypto import sm2
from anxin.crypto.schemes import Ed25519Signer, Signer, Sm2Signer, sm2_base_x


def derive_seed(*parts: object) -> bytes:
    """32 bytes from the parts, stable across runs and platforms."""
    text = "\x1f".join(str(p) for p in ("anxin-sim", *parts))
    return hashlib.sha256(text.encode()).digest()


def derive_int(*parts: object) -> int:
    """A 64-bit integer seed for random generators."""
    return int.from_bytes(derive_seed(*parts)[:8], "big")


class DeterministicSm2Signer:
    """SM2-with-SM3 signer (user id 1234567812345678) with a deterministic nonce."""

    alg = "sm2"

    def __init__(self, seed: bytes) -> None:
        inner = Sm2Signer.from_seed(seed)
        self.public_key_text = inner.public_key_text
        self._d = inner.private_value
        point = bytes.fromhex(self.public_key_text)
        self._za = sm2.user_hash((int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")))
        self._dbytes = self._d.to_bytes(32, "big")

    def sign(self, message: bytes) -> bytes:
        digest = sm2.sm3(self._za + message)
        counter = 0
        while True:
            kb = hashlib.sha512(self._dbytes + digest + counter.to_bytes(4, "big")).digest()
            k = int.from_bytes(kb, "big") % (sm2.N - 1) + 1
            rs = sm2.sign_with_nonce(self._d, self._za, message, k, x1=sm2_base_x(k))
            if rs is not None:
                return rs[0].to_bytes(32, "big") + rs[1].to_bytes(32, "big")
            counter += 1


def device_signer(seed: int, key_id: str, alg: str) -> Signer:
    """The signer of a device key, derived from the city seed and the key id."""
    raw = derive_seed("key", seed, key_id)
    if alg == "ed25519":
        return Ed25519Signer.from_seed(raw)
    if alg == "sm2":
        return DeterministicSm2Signer(raw)
    raise ValueError(f"unknown key_alg {alg!r}")
