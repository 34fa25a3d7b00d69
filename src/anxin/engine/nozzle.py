"""Per-nozzle state (油枪状态): what arrived by ``seq``, what waits for a partner, and the
nozzle's legal timeline (K in force, verifications, breaches).

Everything here is bounded: entries are dropped once the station watermark has
moved ``retention`` past them, so memory follows what is pending inside the
horizons, not the length of history.
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from anxin.contract.records import Metering, Settlement
from anxin.contract.registry import Nozzle

_TOT = 1 << 53  # |totalizer| < 2**53 (contract v1.1 §A): offset to 54 bits, never negative
_T_SHIFT = 1 + 64 + 54 + 54  # where the time starts in a packed entry


class SeqEntry:
    """One arrived metering or event record of a module, by ``seq``.

    A city-day keeps one for every metering record of the retention, so its numbers are
    packed into one integer — (time, totalizer start, end, digest, is metering): 112 bytes
    with the entry, where the entry and its four objects took 224 — and read back on
    demand. A record outside the packing (a digest not of 8 bytes, a totalizer beyond the
    contract's bounds: only a test can feed one) keeps its numbers as they are."""

    __slots__ = ("_packed", "_wide", "order_id")

    def __init__(self, digest: bytes, t: int, is_metering: bool, tot_start: int, tot_end: int):
        if len(digest) == 8 and -_TOT < tot_start < _TOT and -_TOT < tot_end < _TOT:
            self._packed = (
                ((((t << 54) | (tot_start + _TOT)) << 54 | (tot_end + _TOT)) << 64 | int.from_bytes(digest, "big")) << 1
            ) | is_metering
            self._wide: tuple[bytes, int, bool, int, int] | None = None
        else:
            self._packed = 0
            self._wide = (digest, t, is_metering, tot_start, tot_end)
        self.order_id: str | None = None  # the sale it is paired with

    def __getstate__(self) -> tuple:  # (checkpoints)
        return (self._packed, self._wide, self.order_id)

    def __setstate__(self, state: tuple) -> None:
        if len(state) == 3:
            self._packed, self._wide, self.order_id = state
        else:  # a checkpoint of an earlier engine (its slots by name): read, then refused by its version
            old = state[1]
            self.__init__(old["digest"], old["t"], old["is_metering"], old["tot_start"], old["tot_end"])  # type: ignore[misc]
            self.order_id = old.get("order_id")

    @property
    def digest(self) -> bytes:
        w = self._wide
        return w[0] if w is not None else ((self._packed >> 1) & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big")

    @property
    def t(self) -> int:
        w = self._wide
        return w[1] if w is not None else self._packed >> _T_SHIFT

    @property
    def is_metering(self) -> bool:
        w = self._wide
        return w[2] if w is not None else bool(self._packed & 1)

    @property
    def tot_start(self) -> int:
        w = self._wide
        return w[3] if w is not None else ((self._packed >> 119) & ((1 << 54) - 1)) - _TOT

    @property
    def tot_end(self) -> int:
        w = self._wide
        return w[4] if w is not None else ((self._packed >> 65) & ((1 << 54) - 1)) - _TOT


class PendingMetering:
    """A metering record still waiting for its sale (or alarmed and kept for a late one)."""

    __slots__ = ("rec", "t0", "t", "alarm_id")

    def __init__(self, rec: Metering, t0: int, t: int):
        self.rec = rec
        self.t0 = t0
        self.t = t
        self.alarm_id: str | None = None


class PendingSale:
    """A settlement still waiting for its metering record."""

    __slots__ = ("rec", "t", "alarm_id", "note")

    def __init__(self, rec: Settlement, t: int):
        self.rec = rec
        self.t = t
        self.alarm_id: str | None = None
        self.note: str | None = None


class VerificationMark(NamedTuple):
    t: int
    passed: bool
    valid_until: int
    k: int
    certificate_no: str


class NozzleState:
    __slots__ = (
        "reg",
        "seqs",
        "lo",
        "hi",
        "missing",
        "missing_t",
        "meters",
        "sales",
        "sale_seq",
        "k_times",
        "k_values",
        "verifications",
        "breaches",
        "unverified_days",
        "auth_pending",
        "use_deferred",
        "locks",
    )

    def __init__(self, reg: Nozzle, registry_k: int, verified_until: int) -> None:
        self.reg = reg
        self.seqs: dict[int, SeqEntry] = {}
        self.lo: int | None = None
        self.hi: int | None = None
        # seq never arrived → alarm id once alarmed (kept for a late arrival until pruned)
        self.missing: dict[int, str | None] = {}
        self.missing_t: dict[int, int] = {}  # alarmed missing seq → alarm time, for pruning
        self.meters: dict[int, PendingMetering] = {}  # unpaired metering by seq
        self.sales: dict[str, PendingSale] = {}  # sales waiting (or alarmed), by order_id
        self.sale_seq: dict[int, str] = {}  # pump_seq → order_id of the sale claiming it
        # K in force: sorted change times and the K from each (registry K from -inf).
        self.k_times: list[int] = [-(1 << 62)]
        self.k_values: list[int] = [registry_k]
        # The registry's verification state is a passing/failing mark at -inf.
        self.verifications: list[VerificationMark] = [
            VerificationMark(-(1 << 62), reg.last_verification_passed, verified_until, registry_k, "")
        ]
        self.breaches: list[tuple[int, str, int]] = []  # (t, rule, seq), sorted
        self.unverified_days: set[int] = set()
        self.auth_pending: list[int] = []  # times of events still inside their authorisation window
        self.use_deferred = 0  # dispensings whose verification status waits for one of them
        # self_lock / unlock events (contract v1.1 §F): (t, seq, locked, reason), sorted
        self.locks: list[tuple[int, int, bool, object]] = []

    # --- K in force ---------------------------------------------------------
    def k_in_force(self, t: int) -> int:
        return self.k_values[bisect.bisect_right(self.k_times, t) - 1]

    def set_k(self, t: int, k: int) -> None:
        i = bisect.bisect_right(self.k_times, t)
        self.k_times.insert(i, t)
        self.k_values.insert(i, k)

    # --- verification timeline ----------------------------------------------
    def add_verification(self, mark: VerificationMark) -> None:
        bisect.insort(self.verifications, mark)
        self.set_k(mark.t, mark.k)

    def authorised(self, t: int, window: int) -> VerificationMark | None:
        """A verification (passed or failed) within ±window of t, if any."""
        for v in self.verifications[1:]:
            if abs(v.t - t) <= window:
                return v
        return None

    def add_breach(self, t: int, rule: str, seq: int) -> None:
        bisect.insort(self.breaches, (t, rule, seq))

    def unverified_reason(self, t: int) -> str | None:
        """Why a dispensing starting at t is not covered by a valid verification, or None."""
        i = bisect.bisect_right(self.verifications, (t, True, 1 << 62, 0, "\uffff")) - 1
        v = self.verifications[max(i, 0)]
        if not v.passed:
            where = f" ({v.certificate_no})" if v.certificate_no else ""
            return f"last verification failed{where}"
        if t > v.valid_until:
            return "verification expired"
        j = bisect.bisect_right(self.breaches, (v.t, "\uffff", 1 << 62))
        if j < len(self.breaches) and self.breaches[j][0] < t:
            b = self.breaches[j]
            return f"{b[1]} (seq {b[2]}) since the last passing verification"
        return self.lock_reason(t)

    # --- self-lock (contract v1.1 §F) ---------------------------------------
    def add_lock(self, t: int, seq: int, locked: bool, reason: object) -> None:
        bisect.insort(self.locks, (t, seq, locked, reason), key=lambda e: (e[0], e[1]))

    def lock_before(self, t: int) -> tuple[int, int, object] | None:
        """The ``self_lock`` in force just before ``t`` (time, seq, reason): None when the
        nozzle was not locked then (never, or already unlocked)."""
        i = self._locks_before(t)
        e = self.locks[i - 1] if i else None
        return (e[0], e[1], e[3]) if e is not None and e[2] else None

    def lock_reason(self, t: int) -> str | None:
        """Why a dispensing starting at ``t`` falls between a self-lock and its unlock, or None."""
        i = self._locks_before(t)
        if i and self.locks[i - 1][2]:
            return f"dispenser self-locked (seq {self.locks[i - 1][1]}), not unlocked"
        return None

    def _locks_before(self, t: int) -> int:
        return bisect.bisect_left(self.locks, t, key=lambda e: e[0])

    # --- pruning --------------------------------------------------------------
    def prune(self, before: int) -> None:
        """Forget what lies more than the retention behind the watermark."""
        if self.seqs:
            old = [s for s, e in self.seqs.items() if e.t < before]
            for s in old:
                del self.seqs[s]
        for s in [s for s, m in self.meters.items() if m.alarm_id and m.t < before]:
            del self.meters[s]
        for o in [o for o, p in self.sales.items() if p.alarm_id and p.t < before]:
            seq = self.sales.pop(o).rec.pump_seq
            if seq is not None and self.sale_seq.get(seq) == o:
                del self.sale_seq[seq]
        for n in [n for n, t in self.missing_t.items() if t < before]:
            del self.missing[n], self.missing_t[n]
        if len(self.k_times) > 2:
            i = bisect.bisect_right(self.k_times, before) - 1
            if i > 0:
                del self.k_times[:i], self.k_values[:i]
        if len(self.verifications) > 2:
            i = bisect.bisect_right(self.verifications, (before,)) - 1
            if i > 1:
                del self.verifications[1:i]
        if len(self.locks) > 1:  # the last one before keeps telling whether the nozzle is locked
            i = self._locks_before(before)
            if i > 1:
                del self.locks[: i - 1]
        if self.breaches:
            last_pass = max((v.t for v in self.verifications if v.passed), default=None)
            if last_pass is not None and last_pass < before:
                self.breaches = [b for b in self.breaches if b[0] > last_pass]
