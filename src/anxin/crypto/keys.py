"""The device key ring (密钥登记): which key may sign for which nozzle, and when.

A record is authentic when its ``key_id`` is the nozzle's current key, or a
retired key of that nozzle and the record happened before the retirement, and
its signature verifies under that key. Verifier objects are built lazily and
cached, so a worker process pays the key-loading cost once per key.

Verification records (contract v1.1 §C): where the registry lists ``institutes``, a
verification must carry ``institute_id``, ``key_id`` and ``sig`` and is authenticated
the same way against the institute's keys (:func:`authenticate_verification`): a bad
signature is ``BAD_SIGNATURE``; no signature, an unknown institute or a key that is not
the institute's is ``UNKNOWN_DEVICE`` — all quarantined. Where it lists none, a
verification is unsigned (v1) and gets no verdict.
"""

from __future__ import annotations

import binascii
import enum
from collections.abc import Callable

from anxin.contract.canonical import canonical_of_line
from anxin.contract.records import Verification
from anxin.contract.registry import Registry
from anxin.contract.times import to_us
from anxin.crypto.schemes import Verifier, load_verifier


class KeyVerdict(enum.IntEnum):
    OK = 0
    BAD_SIGNATURE = 1
    UNKNOWN_NOZZLE = 2
    WRONG_KEY = 3
    WRONG_STATION = 4
    UNSIGNED = 5  # a verification without an institute's signature where the registry lists institutes
    UNKNOWN_INSTITUTE = 6  # a verification naming an institute the registry does not list
    INSTITUTE_KEY = 7  # a verification whose key_id is not (or no longer) the institute's key


# (alg, public key text, retired_at µs or None)
KeyEntry = tuple[str, str, int | None]


class KeyRing:
    def __init__(
        self,
        entries: dict[str, dict[str, KeyEntry]],
        stations: dict[str, str],
        institutes: dict[str, dict[str, KeyEntry]] | None = None,
    ) -> None:
        self._entries = entries
        self._station_of = stations
        self._verifiers: dict[tuple[str, str], Verifier] = {}
        self.institutes = institutes or {}  # institute → key_id → entry; empty: verifications unsigned (v1)

    @classmethod
    def from_registry(cls, reg: Registry) -> KeyRing:
        entries: dict[str, dict[str, KeyEntry]] = {}
        for n in reg.nozzles:
            keys: dict[str, KeyEntry] = {n.key_id: (n.key_alg, n.public_key, None)}
            for k in n.previous_keys:
                keys.setdefault(k.key_id, (k.key_alg, k.public_key, to_us(k.retired_at)))
            entries[n.nozzle_id] = keys
        institutes: dict[str, dict[str, KeyEntry]] = {}
        for i in reg.institutes:
            ikeys: dict[str, KeyEntry] = {i.key_id: (i.key_alg, i.public_key, None)}
            for k in i.previous_keys:
                ikeys.setdefault(k.key_id, (k.key_alg, k.public_key, to_us(k.retired_at)))
            institutes[i.institute_id] = ikeys
        return cls(entries, {n.nozzle_id: n.station_id for n in reg.nozzles}, institutes)

    def with_verifiers(self, make: Callable[[str, str], Verifier]) -> KeyRing:
        """The same ring whose every key is verified by ``make(alg, public key text)``'s
        verifier (the live ingest checks an upload's signatures together, in a worker
        process: :mod:`anxin.ingest.readers`)."""
        ring = KeyRing(self._entries, self._station_of, self.institutes)
        for nozzle_id, keys in self._entries.items():
            for key_id, (alg, text, _retired) in keys.items():
                ring._verifiers[(nozzle_id, key_id)] = make(alg, text)
        for institute_id, ikeys in self.institutes.items():
            for key_id, (alg, text, _retired) in ikeys.items():
                ring._verifiers[("institute:" + institute_id, key_id)] = make(alg, text)
        return ring

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

    def check_institute(
        self, institute_id: str, key_id: str, t_us: int, message: bytes, signature: bytes
    ) -> KeyVerdict:
        keys = self.institutes.get(institute_id)
        if keys is None:
            return KeyVerdict.UNKNOWN_INSTITUTE
        entry = keys.get(key_id)
        if entry is None or (entry[2] is not None and t_us >= entry[2]):
            return KeyVerdict.INSTITUTE_KEY
        cache = ("institute:" + institute_id, key_id)
        verifier = self._verifiers.get(cache)
        if verifier is None:
            verifier = self._verifiers[cache] = load_verifier(entry[0], entry[1])
        return KeyVerdict.OK if verifier.verify(message, signature) else KeyVerdict.BAD_SIGNATURE


def authenticate_verification(raw: bytes, parsed, ring: KeyRing) -> KeyVerdict | None:
    """The verdict for a verification record (its line ``raw`` as received): None where
    the registry lists no institutes (v1: unsigned); else its institute signature's."""
    rec = parsed.rec
    if not ring.institutes or not isinstance(rec, Verification):
        return None
    if rec.sig is None or rec.institute_id is None or rec.key_id is None:
        return KeyVerdict.UNSIGNED
    canonical, sig_text = canonical_of_line(raw)
    try:
        sig = binascii.a2b_base64(sig_text, strict_mode=True) if isinstance(sig_text, str) else b""
    except (binascii.Error, ValueError):
        sig = b""  # undecodable: a forgery to quarantine, as for a module record
    return ring.check_institute(rec.institute_id, rec.key_id, parsed.t, canonical, sig)


def authenticate(parsed, ring: KeyRing) -> KeyVerdict | None:
    """The key-ring verdict for a parsed signed record (metering, event); None for unsigned kinds."""
    if parsed.canonical is None:
        return None
    rec = parsed.rec
    return ring.check(rec.station_id, rec.nozzle_id, rec.key_id, parsed.t, parsed.canonical, parsed.sig)
