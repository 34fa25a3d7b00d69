"""The engine (比对引擎): pure, deterministic, event-time processing of contract-v1 records.

Fed records in arrival order (each with its key-ring verdict when signed), it
returns alarms, notes on earlier alarms and verification results. It does no
I/O and reads no clock: time is the event time of the records, and every
decision that waits for a partner is taken when the station's watermark (the
latest event time among its records) passes the record's time plus a horizon.
Batch (``anxin check``) and live (``anxin serve``/``anxin demo``) use this
same class, so they raise the same alarms.

The platform's clock enters only as data (contract v1.1 §B, §D; ``clock.py``): each
record's receipt time, given with it, and the ticks the platform appends to the ledger.
A record whose event time is ahead of its receipt time by more than the tolerance is
``CLOCK_AHEAD`` — quarantined, it moves no watermark; a tick moves a silent station's
watermark and nothing else. Without receipt times (unit tests) neither exists.

Decisions waiting on the watermark live in one heap per station, ordered by
(deadline, kind, nozzle, key); taking them in that order, whatever the arrival
order, is what makes the alarms independent of how records were interleaved
within the horizon.
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

import msgspec

from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed
from anxin.contract.records import (
    Delivery,
    Event,
    Metering,
    Settlement,
    TankReading,
    Verification,
    kind_of,
)
from anxin.contract.registry import Registry
from anxin.contract.times import format_ts, local_day, to_us
from anxin.crypto.keys import KeyVerdict
from anxin.engine import firmware, rules
from anxin.engine.clock import Tick, Watch
from anxin.engine.gauge import TankReadings, place
from anxin.engine.looks import final_look, scheduled_looks
from anxin.engine.nozzle import NozzleState, PendingMetering, PendingSale, SeqEntry, VerificationMark
from anxin.engine.outputs import AlarmNote, make_alarm
from anxin.engine.settings import DEFAULT_SETTINGS, EngineSettings
from anxin.engine.tanklog import TankLogs
from anxin.engine.witness import WitnessResult
from anxin.verification import beta_for_product, evaluate_verification, measured_error

Output = Alarm | AlarmNote | Any  # Any: VerificationResult

# Decision kinds, in the order they are taken at equal deadlines: a sale is
# paired (legacy POS) before its metering is declared unmatched.
SALE, METER, GAP, AUTH, USE = range(5)
KCHECK = -1  # a METER decision whose metering is already paired (for pending counts)
PENDING_NAMES = {
    SALE: "settlement awaiting metering",
    METER: "metering awaiting settlement",
    KCHECK: "metering awaiting K declarations",
    GAP: "missing seq awaiting arrival",
    AUTH: "event awaiting verification",
    USE: "dispensing awaiting verification status",
}
BREACH_EVENTS = {"seal_open": "seal opened", "tamper": "tamper", "firmware_update": "firmware update"}
PRUNE_EVERY = 2048
_DIGEST_MASK = (1 << 64) - 1
MAX_GAP = 10_000  # beyond this a counter jump is one alarm, not one per number

_QUARANTINE_RULE: dict[KeyVerdict | None, tuple[str, str]] = {  # None: not authenticated
    KeyVerdict.BAD_SIGNATURE: ("BAD_SIGNATURE", "signature does not verify"),
    KeyVerdict.UNKNOWN_NOZZLE: ("UNKNOWN_DEVICE", "nozzle is not registered"),
    KeyVerdict.WRONG_KEY: ("UNKNOWN_DEVICE", "key_id is not this nozzle's key"),
    KeyVerdict.WRONG_STATION: ("UNKNOWN_DEVICE", "nozzle is registered to another station"),
    KeyVerdict.UNSIGNED: ("UNKNOWN_DEVICE", "verification not signed by a registered institute"),
    KeyVerdict.UNKNOWN_INSTITUTE: ("UNKNOWN_DEVICE", "institute is not registered"),
    KeyVerdict.INSTITUTE_KEY: ("UNKNOWN_DEVICE", "key_id is not the institute's key"),
}


class StationState:
    __slots__ = (
        "station_id",
        "watermark",
        "heap",
        "orders",
        "seen",
        "readings",
        "since_prune",
        "next_prune",
        "nozzles",
        "next_look",
        "mark",
        "moved_rx",
    )

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.watermark = -(1 << 62)
        self.heap: list[tuple] = []
        # natural key → its stamp (_stamp): sales by order id; deliveries, verifications, quarantine
        self.orders: dict[str, int | tuple[bytes, int]] = {}
        self.seen: dict[tuple, int | tuple[bytes, int]] = {}
        self.readings: dict[str, TankReadings] = {}  # tank → its accepted readings (resends, floods)
        self.since_prune = 0
        self.next_prune = -(1 << 62)
        self.nozzles: list[NozzleState] = []
        self.next_look: int | None = None  # the tank witness's next scheduled instant
        self.mark = -(1 << 62)  # the latest event time among its records (the watermark less ticks)
        self.moved_rx: int | None = None  # receipt time when the watermark last moved


class Engine:
    STATE_VERSION = 5  # of the pickled state (checkpoints): another version is not loaded

    def __init__(self, registry: Registry, settings: EngineSettings = DEFAULT_SETTINGS) -> None:
        self.state_version = self.STATE_VERSION
        self.reg = registry
        self.s = settings
        self.stations: dict[str, StationState] = {}
        self.nozzles: dict[str, NozzleState] = {}
        self.counts: Counter[str] = Counter()
        self.tanklogs = TankLogs(registry) if self.s.witness_enabled else None
        self.witness_raised: set[str] = set()  # statistical findings already alarmed (one per finding)
        # METER_DRIFT findings of each station's last look, awaiting the next (alarm id → look)
        self.witness_pending: dict[str, dict[str, int]] = {}
        self._looks = self.tanklogs is not None and self.s.witness_every_us > 0
        self.watch = Watch(settings)  # the platform's clock: receipts, outages
        self._rx: int | None = None  # receipt time of the record being fed

    # ------------------------------------------------------------------ API
    def feed(self, p: Parsed, verdict: KeyVerdict | None = None, *, received_us: int | None = None) -> list[Output]:
        """Process one parsed record; ``verdict`` is required for signed kinds.
        ``received_us``: its receipt time (the platform's clock when its line was received;
        ``anxin check`` plays ``--as-of``); None: no clock at all (no CLOCK_AHEAD, no outages)."""
        out: list[Output] = []
        rec = p.rec
        self._rx = received_us
        if received_us is not None:
            if received_us > self.watch.clock:
                self.watch.advance(received_us, self.reg, out)
            if p.t - received_us > self.s.clock_ahead_tolerance_us and not self._refused(p, verdict):
                self._clock_ahead(p, received_us, out)
                return out
        if isinstance(rec, Metering):
            self._metering(p, rec, verdict, out)
        elif isinstance(rec, Settlement):
            self._settlement(p, rec, out)
        elif isinstance(rec, TankReading | Delivery):
            self._tank_record(p, rec, out)
        elif isinstance(rec, Event):
            self._event(p, rec, verdict, out)
        elif isinstance(rec, Verification):
            self._verification(p, rec, verdict, out)
        return out

    def tick(self, tick: Tick) -> list[Output]:
        """A tick of the platform's clock, from the ledger: the clock moves to its receipt
        time (outages now due are raised); a station tick moves that station's watermark
        to ``until_us`` — its pending decisions are taken — and does nothing else."""
        out: list[Output] = []
        self._rx = tick.received_us
        self.watch.advance(tick.received_us, self.reg, out)
        if tick.station_id is not None and tick.until_us is not None:
            st = self.stations.get(tick.station_id)
            if st is not None:
                self._move(st, tick.until_us, out)
        self.counts["ticks"] += 1
        return out

    def due_ticks(self, now: int) -> list[Tick]:
        """The ticks the platform should append at ``now``: one per station with decisions
        pending whose watermark has not moved for ``decide_after_silence`` of the clock
        (until: its watermark plus that silence); else a clock tick if an outage is due."""
        ticks = []
        for sid in sorted(self.stations):
            st = self.stations[sid]
            if st.heap and st.moved_rx is not None and now - st.moved_rx >= self.s.decide_after_silence_us:
                silence = now - st.moved_rx
                ticks.append(
                    Tick(received_us=now, station_id=sid, until_us=st.watermark + silence, silence_s=silence / 1e6)
                )
        if not ticks and now > self.watch.clock and self.watch.due(now, self.reg):
            ticks.append(Tick(received_us=now))
        return ticks

    def witness(self) -> WitnessResult:
        """The tank witness now, over each station's window up to its watermark, with
        every test (the end of a batch). Alarms already raised by a scheduled look are
        returned again; their ids are those of the same findings."""
        return final_look(self)

    def pending(self) -> dict[str, int]:
        """What is still inside its horizon (counted, not alarmed, at the end of a batch)."""
        counts: Counter[str] = Counter()
        for st in self.stations.values():
            for item in st.heap:
                kind, nz = item[1], self.nozzles[item[2]]
                if kind == METER and item[3] not in nz.meters:
                    kind = KCHECK  # paired: only its K check is still open
                elif kind == SALE and item[3] not in nz.sales:
                    continue
                counts[PENDING_NAMES[kind]] += 1
        return dict(sorted(counts.items()))

    # ------------------------------------------------------------ plumbing
    def _station(self, station_id: str) -> StationState:
        st = self.stations.get(station_id)
        if st is None:
            st = self.stations[station_id] = StationState(station_id)
        return st

    def _nozzle(self, nozzle_id: str) -> NozzleState:
        nz = self.nozzles.get(nozzle_id)
        if nz is None:
            reg = self.reg.nozzle_by_id[nozzle_id]
            nz = NozzleState(reg, reg.k_pulses_per_m3, to_us(reg.verified_until))
            self.nozzles[nozzle_id] = nz
            self._station(reg.station_id).nozzles.append(nz)
        return nz

    def _accepted(
        self,
        st: StationState,
        t: int,
        out: list[Output],
        *,
        tank: str | None = None,
        nozzle: str | None = None,
        sale: str | None = None,
        heard: bool = True,
    ) -> None:
        """A record was accepted: move the watermark and take the decisions now due; the
        station (and its tank gauge or module) reported (``heard``: a verification is the
        institute's, not the station's)."""
        if t > st.watermark:
            self._move(st, t, out)
        if t > st.mark:
            st.mark = t
        if heard and self._rx is not None:
            self.watch.activity(st.station_id, self._rx, t, self.reg, out, tank=tank, nozzle=nozzle, sale=sale)
        st.since_prune += 1
        if st.since_prune >= PRUNE_EVERY or st.mark >= st.next_prune:
            self._prune(st)

    def _move(self, st: StationState, t: int, out: list[Output]) -> None:
        """The station's watermark moves to ``t`` (if later): the decisions now due."""
        if t > st.watermark:
            st.watermark = t
            if self._rx is not None:
                st.moved_rx = self._rx
            heap = st.heap
            while heap and heap[0][0] < t:
                self._decide(st, heapq.heappop(heap), out)
            if self._looks and (st.next_look is None or t >= st.next_look + self.s.horizon_us):
                scheduled_looks(self, st, t, out)

    def _prune(self, st: StationState) -> None:
        """Forget what lies more than the retention behind the station's records — every
        few thousand records, and at least every quarter of the retention of event time.
        (Behind its records, not its watermark: a tick forgets nothing, so records that
        arrive late after one still pair.)"""
        st.since_prune = 0
        st.next_prune = st.mark + self.s.retention_us // 4
        if tanklogs := self.tanklogs:
            for tank_id in self.reg.tanks_of_station.get(st.station_id, ()):
                if (log := tanklogs.logs.get(tank_id)) is not None:
                    log.prune(st.mark - self.s.witness_window_us - self.s.horizon_us - self.s.witness_every_us)
        before = st.mark - self.s.retention_us
        for nz in st.nozzles:
            nz.prune(before)
        _forget_stamps(st.orders, before)
        _forget_stamps(st.seen, before)
        for seen in st.readings.values():
            seen.prune(before)

    def _quarantine(self, p: Parsed, rule: str, reason: str, out: list[Output], *, key: tuple, **names: Any) -> None:
        st = self._station(p.rec.station_id)
        qkey = ("q", p.digest)
        if qkey in st.seen:
            self.counts["resends"] += 1
            return
        st.seen[qkey] = _stamp(p.digest, max(st.watermark, p.t))
        self.counts["quarantined"] += 1
        # The record keeps its signature: it is the evidence.
        evidence = {"reason": reason, "record": msgspec.to_builtins(p.rec), "quarantined": True}
        out.append(
            make_alarm(
                rule,
                key=(*key, p.digest.hex()),
                station_id=p.rec.station_id,
                ts_us=p.t,
                message=f"{reason}; record quarantined as evidence",
                evidence=evidence,
                **names,
            )
        )

    def _refused(self, p: Parsed, verdict: KeyVerdict | None) -> bool:
        """Whether the record is quarantined for its device or signature (which comes first)."""
        rec = p.rec
        if isinstance(rec, Metering | Event):
            return verdict is not KeyVerdict.OK
        if isinstance(rec, TankReading | Delivery):
            return _unregistered("tank", self.reg.tank_by_id.get(rec.tank_id), rec.station_id) is not None
        if isinstance(rec, Verification) and verdict is not None and verdict is not KeyVerdict.OK:
            return True
        return _unregistered("nozzle", self.reg.nozzle_by_id.get(rec.nozzle_id), rec.station_id) is not None

    def _clock_ahead(self, p: Parsed, received: int, out: list[Output]) -> None:
        """CLOCK_AHEAD (contract v1.1 §B): the event time is more than the tolerance after
        the receipt time. Quarantined as evidence, excluded from every other rule; the
        watermark does not move. The alarm's ``ts`` is the receipt time."""
        rec = p.rec
        st = self._station(rec.station_id)
        qkey = ("q", p.digest)
        if qkey in st.seen:
            self.counts["resends"] += 1
            return
        st.seen[qkey] = _stamp(p.digest, max(st.mark, received))
        self.counts["quarantined"] += 1
        self.counts["clock_ahead"] += 1
        names: dict[str, Any]
        if isinstance(rec, Metering | Event):
            key: tuple = (rec.nozzle_id, rec.seq)
            names = {"nozzle_id": rec.nozzle_id, "seq": rec.seq}
        elif isinstance(rec, Settlement):
            key, names = (rec.station_id, rec.order_id), {"nozzle_id": rec.nozzle_id, "order_id": rec.order_id}
        elif isinstance(rec, TankReading | Delivery):
            key, names = (rec.tank_id, p.t), {"tank_id": rec.tank_id}
        else:
            key, names = (rec.nozzle_id, p.t), {"nozzle_id": rec.nozzle_id}
        ahead = p.t - received
        reason = (
            f"event time {format_ts(p.t)} is {_duration(ahead)} after its receipt time {format_ts(received)} "
            f"(tolerance {_duration(self.s.clock_ahead_tolerance_us)})"
        )
        out.append(
            make_alarm(
                "CLOCK_AHEAD",
                key=(*key, p.digest.hex()),
                station_id=rec.station_id,
                ts_us=received,
                message=f"{reason}; record quarantined as evidence",
                evidence={
                    "reason": reason,
                    "record": msgspec.to_builtins(rec),
                    "quarantined": True,
                    "event_time": format_ts(p.t),
                    "received": format_ts(received),
                    "ahead_s": ahead / 1e6,
                    "tolerance_s": self.s.clock_ahead_tolerance_us / 1e6,
                },
                **names,
            )
        )

    def _resend(self, seen: dict, key: Any, p: Parsed) -> bool:
        """True if this natural key was seen: identical (resend) or conflicting (dropped)."""
        prev = seen.get(key)
        if prev is None:
            seen[key] = _stamp(p.digest, p.t)
            return False
        same = (prev & _DIGEST_MASK).to_bytes(8, "big") if isinstance(prev, int) else prev[0]
        self.counts["resends" if same == p.digest else "conflicting_resends"] += 1
        return True

    # --------------------------------------------------------- signed records
    def _module_record(
        self, p: Parsed, rec: Metering | Event, verdict: KeyVerdict | None, out: list[Output]
    ) -> tuple[StationState, NozzleState] | None:
        """Common path of metering and event: quarantine, idempotency, seq tracking."""
        if verdict is not KeyVerdict.OK:
            rule, reason = _QUARANTINE_RULE.get(verdict, ("BAD_SIGNATURE", "not authenticated"))
            self._quarantine(
                p,
                rule,
                reason,
                out,
                key=(rec.nozzle_id, rec.seq),
                nozzle_id=rec.nozzle_id,
                seq=rec.seq,
            )
            return None
        nz = self._nozzle(rec.nozzle_id)
        st = self._station(rec.station_id)
        seq = rec.seq
        prev = nz.seqs.get(seq)
        if prev is not None:
            if prev.digest == p.digest:
                self.counts["resends"] += 1
            else:
                out.append(rules.duplicate_seq(rec, p, prev))
            return None
        if nz.hi is not None and nz.lo <= seq <= nz.hi and seq not in nz.missing:  # type: ignore[operator]
            self.counts["stale"] += 1  # older than anything we still remember
            return None
        if isinstance(rec, Metering):
            nz.seqs[seq] = SeqEntry(p.digest, p.t, True, rec.totalizer_start_ml, rec.totalizer_end_ml)
        else:
            nz.seqs[seq] = SeqEntry(p.digest, p.t, False, 0, 0)
        self._track_seq(st, nz, seq, p.t, out)
        self._totalizer_chain(nz, seq, out)
        self.counts[kind_of(rec)] += 1
        return st, nz

    def _track_seq(self, st: StationState, nz: NozzleState, seq: int, t: int, out: list) -> None:
        if nz.hi is None:
            nz.lo = nz.hi = seq
            return
        if seq > nz.hi:
            new = range(nz.hi + 1, seq)
            nz.hi = seq
        elif seq < nz.lo:  # type: ignore[operator]
            new = range(seq + 1, nz.lo)  # type: ignore[arg-type]
            nz.lo = seq
            low = nz.seqs.get(new.stop)
            t = low.t if low is not None else t
        else:
            alarm = nz.missing.pop(seq, None)
            if alarm is not None:
                nz.missing_t.pop(seq, None)
                out.append(AlarmNote(alarm_id=alarm, key="late_arrival", value=format_ts(t)))
            return
        deadline = t + self.s.horizon_us
        nid = nz.reg.nozzle_id
        for n in new if len(new) <= MAX_GAP else new[:1]:
            nz.missing[n] = None
            heapq.heappush(st.heap, (deadline, GAP, nid, n, len(new)))

    def _totalizer_chain(self, nz: NozzleState, seq: int, out: list[Output]) -> None:
        """Check each (previous metering, metering) pair once, when its last piece arrives."""
        if nz.seqs[seq].is_metering:
            self._totalizer_back(nz, seq, out)
        k = seq + 1
        while (f := nz.seqs.get(k)) is not None:
            if f.is_metering:
                self._totalizer_back(nz, k, out)
                return
            k += 1

    def _totalizer_back(self, nz: NozzleState, seq: int, out: list[Output]) -> None:
        k = seq - 1
        while (b := nz.seqs.get(k)) is not None and not b.is_metering:
            k -= 1
        if b is None:
            return  # a hole: not across a gap, or not yet
        e = nz.seqs[seq]
        if e.tot_start != b.tot_end:
            out.append(rules.totalizer_jump(nz.reg, seq, e, k, b))

    def _metering(self, p: Parsed, rec: Metering, verdict, out: list[Output]) -> None:
        got = self._module_record(p, rec, verdict, out)
        if got is None:
            return
        st, nz = got
        s = self.s
        rules.metering_checks(rec, p, nz.reg, s, out)
        nid = rec.nozzle_id
        m = PendingMetering(rec, p.t0, p.t)
        order = nz.sale_seq.get(rec.seq)
        if order is not None:
            del nz.sale_seq[rec.seq]
            self._pair(nz, m, nz.sales.pop(order), out)
        else:
            nz.meters[rec.seq] = m
        # Decided once every K declaration and partner that could concern it has had
        # its horizon to arrive: the K check too, so arrival order cannot change it.
        deadline = p.t + s.legacy_window_us + s.horizon_us
        heapq.heappush(st.heap, (deadline, METER, nid, rec.seq, rec.k_pulses_per_m3, p.t0))
        if self.tanklogs is not None:
            self.tanklogs.dispensing(nz.reg.tank_id, nid, rec.k_pulses_per_m3, p.t0, p.t, rec.volume_ml)
        self._accepted(st, p.t, out, nozzle=nid)

    def _event(self, p: Parsed, rec: Event, verdict, out: list[Output]) -> None:
        got = self._module_record(p, rec, verdict, out)
        if got is None:
            return
        st, nz = got
        rule = None
        if rec.event == "k_factor_change":
            nz.set_k(p.t, rec.data["new"])  # type: ignore[index]
            rule = "K_FACTOR_CHANGE"
        elif rec.event in BREACH_EVENTS:
            rule = "SEAL_BREACH"
        elif rec.event == "unlock":  # contract v1.1 §F: authorised like a breach
            rule = "SELF_LOCK_CLEARED"
        self._module_event(nz, p, rec, out)
        if rule is not None and nz.authorised(p.t, self.s.authorisation_window_us) is None:
            deadline = p.t + self.s.authorisation_window_us + self.s.horizon_us
            heapq.heappush(st.heap, (deadline, AUTH, rec.nozzle_id, rec.seq, rule, p.t, rec))
            nz.auth_pending.append(p.t)
        self._accepted(st, p.t, out, nozzle=rec.nozzle_id)

    def _module_event(self, nz: NozzleState, p: Parsed, rec: Event, out: list[Output]) -> None:
        """Firmware and self-lock (contract v1.1 §F; ``firmware.py``): an update judged
        against the register in force, a lock or unlock on the nozzle's timeline."""
        if rec.event == "firmware_update":
            reg = self.reg.nozzle_by_id.get(rec.nozzle_id)
            model = reg.dispenser_model if reg is not None else None
            if (a := firmware.unapproved_firmware(self.reg, rec, model, p.t)) is not None:
                out.append(a)
        elif rec.event in ("self_lock", "unlock"):
            nz.add_lock(p.t, rec.seq, rec.event == "self_lock", firmware.lock_reason_of(rec.data))

    # ------------------------------------------------------- unsigned records
    def _settlement(self, p: Parsed, rec: Settlement, out: list[Output]) -> None:
        if reason := _unregistered("nozzle", self.reg.nozzle_by_id.get(rec.nozzle_id), rec.station_id):
            self._quarantine(
                p,
                "UNKNOWN_DEVICE",
                reason,
                out,
                key=(rec.station_id, rec.order_id),
                nozzle_id=rec.nozzle_id,
                order_id=rec.order_id,
            )
            return
        st = self._station(rec.station_id)
        if self._resend(st.orders, rec.order_id, p):
            return
        self.counts["settlement"] += 1
        nz = self._nozzle(rec.nozzle_id)
        if (a := rules.amount_mismatch(rec, p, self.s)) is not None:
            out.append(a)
        sale = PendingSale(rec, p.t)
        seq = rec.pump_seq
        orphan = None
        m = nz.meters.get(seq) if seq is not None else None
        if m is not None:
            del nz.meters[seq]  # type: ignore[arg-type]
            self._pair(nz, m, sale, out)
        else:
            if seq is not None:
                e = nz.seqs.get(seq)
                if e is not None and e.order_id is not None:
                    sale.note = f"metering seq {seq} already settled by order {e.order_id}"
                elif seq not in nz.sale_seq:
                    nz.sale_seq[seq] = rec.order_id
            nz.sales[rec.order_id] = sale
            heapq.heappush(st.heap, (p.t + self.s.horizon_us, SALE, rec.nozzle_id, rec.order_id))
            if seq is not None or _legacy_partner(nz, p.t, self.s.legacy_window_us) is None:
                orphan = rec.nozzle_id  # a sale its module did not report (yet): the module is expected
        self._accepted(st, p.t, out, sale=orphan)

    def _tank_record(self, p: Parsed, rec: TankReading | Delivery, out: list[Output]) -> None:
        if reason := _unregistered("tank", self.reg.tank_by_id.get(rec.tank_id), rec.station_id):
            self._quarantine(
                p,
                "UNKNOWN_DEVICE",
                reason,
                out,
                key=(rec.station_id, rec.tank_id, p.t),
                tank_id=rec.tank_id,
            )
            return
        st = self._station(rec.station_id)
        kind = kind_of(rec)
        if isinstance(rec, TankReading):  # the bulk of the data: a compact per-tank index
            seen = st.readings.get(rec.tank_id)
            if seen is None:
                seen = st.readings[rec.tank_id] = TankReadings()
            if (prev := seen.find(p.t)) is not None:
                self.counts["resends" if prev == p.digest else "conflicting_resends"] += 1
                return
            # Another reading of this tank less than the gap away: in the index (its
            # retention) or in the witness's window (readings sent again once forgotten).
            gap = self.s.reading_min_gap_us
            i = place(seen.t, p.t, gap)
            tl = self.tanklogs
            if i is None or (
                tl is not None and not tl.reading(rec.tank_id, p.t, rec.level_um, rec.water_um, rec.temp_mc, gap)
            ):
                self.counts["readings_too_frequent"] += 1
                return
            seen.add(i, p.t, p.digest)
        elif self._resend(st.seen, (kind, rec.tank_id, p.t), p):
            return
        elif self.tanklogs is not None:
            self.tanklogs.delivery(rec.tank_id, p.t0, p.t, rec.volume_ml)
        self.counts[kind] += 1
        self._accepted(st, p.t, out, tank=rec.tank_id if isinstance(rec, TankReading) else None)

    def _verification(self, p: Parsed, rec: Verification, verdict: KeyVerdict | None, out: list[Output]) -> None:
        if verdict is not None and verdict is not KeyVerdict.OK:  # an institute's signature (contract v1.1 §C)
            rule, why = _QUARANTINE_RULE.get(verdict, ("BAD_SIGNATURE", "not authenticated"))
            self._quarantine(p, rule, why, out, key=(rec.nozzle_id, p.t), nozzle_id=rec.nozzle_id)
            return
        reg = self.reg.nozzle_by_id.get(rec.nozzle_id)
        if reason := _unregistered("nozzle", reg, rec.station_id):
            self._quarantine(p, "UNKNOWN_DEVICE", reason, out, key=(rec.nozzle_id, p.t), nozzle_id=rec.nozzle_id)
            return
        assert reg is not None
        st = self._station(rec.station_id)
        if self._resend(st.seen, ("verification", rec.nozzle_id, p.t), p):
            return
        self.counts["verification"] += 1
        product = self.reg.product_by_id.get(reg.product)
        result = evaluate_verification(
            rec, beta_y_per_c=beta_for_product(product.expansion_ppm_per_c if product else None)
        )
        out.append(result)
        nz = self._nozzle(rec.nozzle_id)
        nz.add_verification(
            VerificationMark(p.t, result.passed, to_us(rec.valid_until), rec.k_pulses_per_m3, rec.certificate_no)
        )
        if self.tanklogs is not None and result.passed and (found := measured_error(result)) is not None:
            self.tanklogs.verification(rec.nozzle_id, p.t, rec.k_pulses_per_m3, *found)
        self._accepted(st, p.t, out, heard=False)  # the institute's record, not the station's

    # -------------------------------------------------------------- pairing
    def _pair(self, nz: NozzleState, m: PendingMetering, sale: PendingSale, out: list[Output]) -> None:
        entry = nz.seqs.get(m.rec.seq)
        if entry is not None:
            entry.order_id = sale.rec.order_id
        posted = self.reg.posted_price(nz.reg.station_id, nz.reg.product, m.t0)
        out.extend(rules.pair_checks(m, sale, posted, self.s))
        if sale.alarm_id is not None:
            out.append(
                AlarmNote(alarm_id=sale.alarm_id, key="late_metering", value={"seq": m.rec.seq, "end": format_ts(m.t)})
            )
        if m.alarm_id is not None:
            out.append(
                AlarmNote(
                    alarm_id=m.alarm_id,
                    key="late_settlement",
                    value={"order_id": sale.rec.order_id, "ts": format_ts(sale.t)},
                )
            )

    # ------------------------------------------------------------- decisions
    def _decide(self, st: StationState, item: tuple, out: list[Output]) -> None:
        kind = item[1]
        nz = self.nozzles[item[2]]
        if kind == SALE:
            self._decide_sale(nz, item[3], out)
        elif kind == METER:
            _, _, _, seq, k, t0 = item
            in_force = nz.k_in_force(t0)
            if k != in_force:
                out.append(rules.undeclared_k(nz.reg, seq, k, in_force, t0))
                nz.add_breach(t0, "undeclared K factor change", seq)
            m = nz.meters.get(seq)
            if m is not None and m.alarm_id is None:
                a = rules.unmatched_metering(m, self.s)
                m.alarm_id = a.alarm_id
                out.append(a)
            # Verification status at t0 is settled now unless an event before t0 still
            # awaits its authorisation window — or an earlier dispensing of this nozzle
            # waits for one (the day's alarm names its first unverified dispensing).
            if nz.use_deferred or any(t < t0 for t in nz.auth_pending):
                nz.use_deferred += 1
                heapq.heappush(
                    st.heap, (t0 + self.s.authorisation_window_us + self.s.horizon_us, USE, item[2], seq, t0)
                )
            else:
                self._use_check(nz, seq, t0, out)
        elif kind == GAP:
            self._decide_gap(st, nz, item, out)
        elif kind == AUTH:
            _, _, _, seq, rule, t, rec = item
            nz.auth_pending.remove(t)
            if nz.authorised(t, self.s.authorisation_window_us) is None and rule == "SELF_LOCK_CLEARED":
                out.append(firmware.self_lock_cleared(rec, t, nz.lock_before(t), self.s))
            elif nz.authorised(t, self.s.authorisation_window_us) is None:
                out.append(rules.unauthorised_event(rule, rec, t, self.s))
                nz.add_breach(t, "unauthorised K factor change" if rule == "K_FACTOR_CHANGE" else "seal breach", seq)
        elif kind == USE:
            nz.use_deferred -= 1
            self._use_check(nz, item[3], item[4], out)

    def _use_check(self, nz: NozzleState, seq: int, t0: int, out: list[Output]) -> None:
        reason = nz.unverified_reason(t0)
        if reason is not None:
            day = local_day(t0, self.s.local_offset_us)
            if day not in nz.unverified_days:
                nz.unverified_days.add(day)
                out.append(rules.unverified_use(nz.reg, seq, t0, day, reason))

    def _decide_sale(self, nz: NozzleState, order_id: str, out: list[Output]) -> None:
        sale = nz.sales.get(order_id)
        if sale is None or sale.alarm_id is not None:
            return  # paired meanwhile
        rec = sale.rec
        if rec.pump_seq is None:
            m = _legacy_partner(nz, sale.t, self.s.legacy_window_us)
            if m is not None:
                del nz.meters[m.rec.seq], nz.sales[order_id]
                self._pair(nz, m, sale, out)
                return
        posted = self.reg.posted_price(rec.station_id, nz.reg.product, sale.t)
        alarms = rules.unmatched_settlement(sale, posted, self.s)
        sale.alarm_id = alarms[-1].alarm_id
        out.extend(alarms)

    def _decide_gap(self, st: StationState, nz: NozzleState, item: tuple, out: list[Output]) -> None:
        deadline, _, nid, n, jump = item
        if nz.missing.get(n, "") is not None:
            return  # arrived, or already alarmed
        k, t_next = n + 1, deadline - self.s.horizon_us
        while k <= (nz.hi or n) and k - n <= 64:
            e = nz.seqs.get(k)
            if e is not None:
                t_next = min(t_next, e.t)
                break
            k += 1
        if t_next + self.s.horizon_us >= st.watermark:
            heapq.heappush(st.heap, (t_next + self.s.horizon_us, GAP, nid, n, jump))
            return
        a = rules.sequence_gap(nz, n, t_next, jump, MAX_GAP)
        nz.missing[n] = a.alarm_id
        nz.missing_t[n] = t_next
        out.append(a)


def _stamp(digest: bytes, t: int) -> int | tuple[bytes, int]:
    """What idempotency keeps of a natural key: t·2⁶⁴ + its 8-byte digest as one integer (a
    city-day holds every sale's); a digest of another length (only a test makes one) as
    the pair (digest, t)."""
    return (t << 64) | int.from_bytes(digest, "big") if len(digest) == 8 else (digest, t)


def _forget_stamps(kept: dict[Any, int | tuple[bytes, int]], before: int) -> None:
    """Forget the stamps of natural keys older than ``before``."""
    packed_before = before << 64  # (a stamp's time lies above its digest's 64 bits)
    for k in [k for k, v in kept.items() if (v < packed_before if isinstance(v, int) else v[1] < before)]:
        del kept[k]


def _unregistered(what: str, entry: Any, station_id: str) -> str | None:
    """Why an unsigned record's device does not belong to its station, or None."""
    if entry is None:
        return f"{what} is not registered"
    if entry.station_id != station_id:
        return f"{what} is registered to another station"
    return None


def _duration(us: int) -> str:
    """A length of time for a message: 5 min, 3 h 20 min, 26,800 days."""
    minutes = us // 60_000_000
    if minutes < 60:
        return f"{us / 60e6:g} min" if us % 60_000_000 else f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440:,} days"


def _legacy_partner(nz: NozzleState, t: int, window: int) -> PendingMetering | None:
    """Legacy POS (pump_seq null): the latest unpaired metering that ended within the window before the sale."""
    best = None
    for m in nz.meters.values():
        if m.t <= t <= m.t + window and (best is None or (m.t, m.rec.seq) > (best.t, best.rec.seq)):
            best = m
    return best


__all__ = ["Engine", "Output"]
