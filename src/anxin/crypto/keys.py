"""The device key ring (密钥登记): which key may sign for which nozzle, and when.

A record is authentic when its ``key_id`` is the nozzle's current key, or a
retired key of that nozzle and the record happened before the retirement, and
its signature verifies under that key. Verifier objects are built lazily and
cached, so a worker process pays the key-loading cost once per key.
"""

from __future__ import annotations

import enum

from anxin.contract.registry import Registry
from anxin.contract.times import to_us
from anxin.crypto.schemes import Verifier, load_verifier


class KeyVerdict(enum.IntEnum):
    OK = 0
    BAD_SIGNATURE = 1
    UNKNOWN_NOZZLE = 2
    WRONG_KEY = 3
    WRONG_STATION = 4


# (alg, public key text, retired_at µs or None)
KeyEntry = tuple[str, str, int | None]


class KeyRing:
    def __init__(self, entries: dict[str, dict[str, KeyEntry]], stations: dict[str, str]) -> None:
        self._entries = entries
        self._station_of = stations
        self._verifiers: dict[tuple[str, str], Verifier] = {}

    @classmethod
    def from_registry(cls, reg: Registry) -> KeyRing:
        entries: dict[str, dict[str, KeyEntry]] = {}
        for n in reg.nozzles:
            keys: dict[str, KeyEntry] = {n.key_id: (n.key_alg, n.public_key, None)}
            for k in n.previous_keys:
                keys.setdefault(k.key_id, (k.key_alg, k.public_key, to_us(k.retired_at)))
            entries[n.nozzle_id] = keys
        return cls(entries, {n.nozzle_id: n.station_id for n in reg.nozzles})

    def check(
        self,
        station_id: str,
        nozzle_id: str,
        key_id: str,
        t_us: int,
        message: bytes,
        signature: bytes,
    ) -> KeyVerdict:
        keys = self._entries.get(nozzle_id)
        if keys is None:
            return KeyVerdict.UNKNOWN_NOZZLE
        if self._station_of[nozzle_id] != station_id:
            return KeyVerdict.WRONG_STATION
        entry = keys.get(key_id)
        if entry is None or (entry[2] is not None and t_us >= entry[2]):
            return KeyVerdict.WRONG_KEY
        verifier = self._verifiers.get((nozzle_id, key_id))
        if verifier is None:
            verifier = self._verifiers[(nozzle_id, key_id)] = load_verifier(entry[0], entry[1])
        return KeyVerdict.OK if verifier.verify(message, signature) else KeyVerdict.BAD_SIGNATURE


def authenticate(parsed, ring: KeyRing) -> KeyVerdict | None:
    """The key-ring verdict for a parsed signed record (metering, event); None for unsigned kinds."""
    if parsed.canonical is None:
        return None
    rec = parsed.rec
    return ring.check(rec.station_id, rec.nozzle_id, rec.key_id, parsed.t, parsed.canonical, parsed.sig)
