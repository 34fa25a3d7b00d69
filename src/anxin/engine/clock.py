"""The platform's clock in the engine (平台时钟, contract v1.1 §B and §D): who reports,
who went silent, and the ticks that take a silent station's pending decisions.

The engine reads no clock. Each record comes with its **receipt time** (the platform's
clock when its line was received, stored with it in the ledger), and the platform
appends **ticks** to the ledger — a receipt time alone (a clock tick), or with a station
and the event time up to which that station is taken as silent. The engine's platform
clock is the latest receipt time it was given; everything below is a function of the
ledger's records, receipt times and ticks in ledger order, so a replay decides the same.

``DATA_OUTAGE`` (数据中断). A unit stops reporting while it is expected to, for more
than ``outage_after`` of the platform's clock:

* a **station** (any accepted record of it): expected within its registry ``hours``,
  else where its learned activity says — the slots of the local day (15 min) in which
  data was received on at least ``activity_min_days`` of the ``activity_days`` days
  before the silence began. Decided as soon as the platform's clock passes the deadline
  (a record of any station, or a clock tick);
* a **tank gauge** (its ``tank_reading``\\ s): expected where its own learned activity
  says, within the station's hours. Decided while its station reports (a silent
  station is one outage, not one per device);
* a **nozzle's metrology module** (its ``metering`` and ``event`` records): expected
  while its nozzle sells — from the first sale the module did not report (its metering
  not there when the sale arrives: no ``pump_seq`` partner, or for a legacy POS none
  ended within 15 min before it), once a second such sale came. Decided while its
  station reports.

The alarm's ``ts`` is the unit's newest event time; its id names the unit and the
receipt time of its last data (one alarm per outage). Data arriving again adds the note
``resumed`` with the outage's length (last data to data again, on the platform's clock).
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

import msgspec

from anxin.contract.alarm import alarm_id
from anxin.contract.times import US_PER_DAY, format_ts, local_day
from anxin.engine.outputs import AlarmNote, make_alarm

STATION, TANK, NOZZLE = "station", "tank", "nozzle"
MINUS_INF = -(1 << 62)


class Tick(msgspec.Struct, kw_only=True, frozen=True, tag="tick", tag_field="kind"):
    """A tick of the platform's clock, as the ledger keeps it (kind ``tick``). With a
    station: that station's watermark moves to ``until_us`` (it has been silent; its
    pending decisions are taken) and nothing else happens to it."""

    received_us: int
    station_id: str | None = None
    until_us: int | None = None
    silence_s: float | None = None  # informative: how long the watermark had not moved

    def body(self) -> bytes:
        return msgspec.json.encode(self)


_tick_decoder = msgspec.json.Decoder(Tick)


def decode_tick(body: bytes) -> Tick:
    return _tick_decoder.decode(body)


class WatchStart(msgspec.Struct, kw_only=True, frozen=True):
    """Output: the platform heard from a station for the first time (its monitoring,
    and its online rate, start then)."""

    station_id: str
    received_us: int


class Unit:
    """What the clock knows of one station, tank gauge or nozzle module."""

    __slots__ = (
        "level",
        "uid",
        "station_id",
        "rx",
        "since",
        "newest",
        "outage",
        "days",
        "plan",
        "queued",
        "sale_rx",
        "orphans",
    )

    def __init__(self, level: str, uid: str, station_id: str) -> None:
        self.level = level
        self.uid = uid
        self.station_id = station_id
        self.rx: int | None = None  # receipt time of its latest data
        self.since = MINUS_INF  # its silence counts from here (its data, or its station's return)
        self.newest = MINUS_INF  # newest event time of its data
        self.outage: str | None = None  # the open DATA_OUTAGE alarm
        self.days: dict[int, int] = {}  # local day (platform clock) → bit mask of slots with data
        self.plan: tuple[Any, ...] | None = None  # (cache key, expected intervals of the day)
        self.queued = False  # has an entry in its heap
        self.sale_rx: int | None = None  # a module: first sale it did not report, since its last record
        self.orphans = 0  # … and how many such sales


class StationWatch(Unit):
    __slots__ = ("units", "heap")

    def __init__(self, station_id: str) -> None:
        super().__init__(STATION, station_id, station_id)
        self.units: dict[tuple[str, str], Unit] = {}
        self.heap: list[tuple[int, str, str]] = []  # (deadline, level, uid) of its devices


class Watch:
    """Receipt times in, DATA_OUTAGE alarms and notes out (see the module's docstring)."""

    def __init__(self, settings: Any) -> None:
        self.s = settings
        self.clock = MINUS_INF  # the platform's clock: the latest receipt time given
        self.stations: dict[str, StationWatch] = {}
        self.heap: list[tuple[int, str]] = []  # (deadline, station_id)

    # ------------------------------------------------------------------ clock
    def advance(self, r: int, reg: Any, out: list) -> None:
        """The platform's clock reads ``r``: the station outages now due are raised."""
        if r <= self.clock:
            return
        self.clock = r
        heap = self.heap
        while heap and heap[0][0] < r:
            _, sid = heapq.heappop(heap)
            sw = self.stations[sid]
            sw.queued = False
            d = self._deadline(sw, reg)
            if d is None:
                continue
            if d < r:
                self._raise(sw, reg, out)
            else:
                heapq.heappush(heap, (d, sid))
                sw.queued = True

    def due(self, now: int, reg: Any) -> bool:
        """Whether a clock tick at ``now`` would raise a station outage. (Entries of the
        heap are refreshed on the way: their deadlines are recomputed when popped anyway.)"""
        heap = self.heap
        while heap and heap[0][0] < now:
            d0, sid = heap[0]
            sw = self.stations[sid]
            d = self._deadline(sw, reg)
            if d == d0:
                return True
            heapq.heappop(heap)
            sw.queued = False
            if d is not None:
                heapq.heappush(heap, (d, sid))
                sw.queued = True
        return False

    # ------------------------------------------------------------------ activity
    def activity(
        self,
        station_id: str,
        r: int,
        t: int,
        reg: Any,
        out: list,
        *,
        tank: str | None = None,
        nozzle: str | None = None,
        sale: str | None = None,
    ) -> None:
        """An accepted record of ``station_id`` received at ``r`` (event time ``t``); of
        tank gauge ``tank`` or module ``nozzle``, or a sale of nozzle ``sale``."""
        sw = self.stations.get(station_id)
        if sw is None:
            sw = self.stations[station_id] = StationWatch(station_id)
            out.append(WatchStart(station_id=station_id, received_us=r))
        uh = sw.heap
        if r == sw.rx and sw.outage is None:  # another record of the upload just seen: nothing new
            if t > sw.newest:
                sw.newest = t
        else:
            back = sw.outage is not None
            self._heard(sw, r, t, out)
            if back:  # its devices' silence counts again from the station's return
                for u in sw.units.values():
                    u.since = max(u.since, r)
                    u.sale_rx, u.orphans = None, 0
            if not sw.queued:
                self._queue(self.heap, sw, reg, (station_id,))
            # The station reports: its devices whose silence is past their deadline are out.
            while uh and uh[0][0] < r:
                _, level, uid = heapq.heappop(uh)
                u = sw.units[(level, uid)]
                u.queued = False
                d = self._deadline(u, reg)
                if d is None:
                    continue
                if d < r:
                    self._raise(u, reg, out)
                else:
                    heapq.heappush(uh, (d, level, uid))
                    u.queued = True
        if tank is not None:
            self._device(sw, TANK, tank, r, t, reg, out)
        elif nozzle is not None:
            self._device(sw, NOZZLE, nozzle, r, t, reg, out)
        elif sale is not None:  # a sale its module did not report
            m = sw.units.get((NOZZLE, sale))  # a module the platform has heard from
            if m is not None and m.outage is None:
                if m.sale_rx is None:
                    m.sale_rx = r
                m.orphans += 1
                d = self._deadline(m, reg)
                if d is not None and d < r:  # silent for long enough already, its station reporting
                    self._raise(m, reg, out)
                elif d is not None and not m.queued:
                    heapq.heappush(uh, (d, NOZZLE, sale))
                    m.queued = True

    def _device(self, sw: StationWatch, level: str, uid: str, r: int, t: int, reg: Any, out: list) -> None:
        """A record of the station's tank gauge or nozzle module ``uid``."""
        u = sw.units.get((level, uid))
        if u is None:
            u = sw.units[(level, uid)] = Unit(level, uid, sw.uid)
        if r == u.rx and u.outage is None:  # another record of the upload just seen
            if t > u.newest:
                u.newest = t
        else:
            self._heard(u, r, t, out)
            if level == TANK and not u.queued:
                self._queue(sw.heap, u, reg, (TANK, uid))
        if level == NOZZLE:
            u.sale_rx, u.orphans = None, 0  # expected again only once its nozzle sells without it

    def _heard(self, u: Unit, r: int, t: int, out: list) -> None:
        if u.outage is not None:
            assert u.rx is not None
            out.append(
                AlarmNote(
                    alarm_id=u.outage,
                    key="resumed",
                    value={"received": format_ts(r), "received_us": r, "outage_s": round((r - u.rx) / 1e6, 3)},
                )
            )
            u.outage = None
        if u.rx is None or r > u.rx:
            u.rx = r
        if r > u.since:
            u.since = r
        if t > u.newest:
            u.newest = t
        if u.level != NOZZLE:
            self._mark(u, r)

    def _queue(self, heap: list, u: Unit, reg: Any, key: tuple) -> None:
        d = self._deadline(u, reg)
        if d is not None:
            heapq.heappush(heap, (d, *key))
            u.queued = True

    def _mark(self, u: Unit, r: int) -> None:
        s = self.s
        day = local_day(r, s.local_offset_us)
        bit = 1 << (((r + s.local_offset_us) % US_PER_DAY) // s.activity_slot_us)
        mask = u.days.get(day)
        if mask is None:
            u.days[day] = bit
            if len(u.days) > s.activity_days + 1:
                for old in sorted(u.days)[: len(u.days) - s.activity_days - 1]:
                    del u.days[old]
        elif not mask & bit:
            u.days[day] = mask | bit
        else:
            return
        if u.plan is not None and u.plan[0][0] > day:
            u.plan = None  # a receipt time behind one already seen changed a day it learned from

    # ------------------------------------------------------------------ expectation
    def _deadline(self, u: Unit, reg: Any) -> int | None:
        """The platform time at which the unit's silence while expected reaches
        ``outage_after`` (None: it is not expected to report)."""
        if u.outage is not None or u.rx is None:
            return None
        if u.level == NOZZLE:
            return None if u.sale_rx is None or u.orphans < 2 else u.sale_rx + self.s.outage_after_us
        intervals = self._plan(u, reg)
        if not intervals:
            return None
        return expected_deadline(intervals, u.since, self.s.outage_after_us, self.s.local_offset_us)

    def _plan(self, u: Unit, reg: Any) -> tuple[tuple[int, int], ...]:
        """The unit's expected intervals of a local day (µs after local midnight)."""
        s = self.s
        station = reg.station_by_id.get(u.station_id)
        hours = station.open_minutes() if station is not None else None
        day0 = local_day(u.since, s.local_offset_us)
        key = (day0, hours)
        if u.plan is not None and u.plan[0] == key:
            return u.plan[1]
        opening = hours_intervals(hours) if hours is not None else None
        if u.level == STATION and opening is not None:
            plan = opening
        else:
            plan = learned_intervals(u.days, day0, s.activity_days, s.activity_min_days, s.activity_slot_us)
            if opening is not None:
                plan = intersect(plan, opening)
        u.plan = (key, plan)
        return plan

    def _raise(self, u: Unit, reg: Any, out: list) -> None:
        assert u.rx is not None
        s = self.s
        key = (u.level, u.uid, u.rx)
        u.outage = alarm_id("DATA_OUTAGE", *key)
        station = reg.station_by_id.get(u.station_id)
        if u.level == NOZZLE:
            basis = f"its nozzle sells ({u.orphans} sales it did not report, the first received {format_ts(u.sale_rx or 0)})"
        elif station is not None and station.hours is not None and u.level == STATION:
            basis = f"opening hours {station.hours[0]}–{station.hours[1]}"
        else:
            basis = "learned activity" + (
                f" within opening hours {station.hours[0]}–{station.hours[1]}"
                if station is not None and station.hours is not None
                else ""
            )
        what = {STATION: "station", TANK: "tank gauge", NOZZLE: "metrology module of nozzle"}[u.level]
        minutes = s.outage_after_us // 60_000_000
        evidence: dict[str, Any] = {
            "level": u.level,
            "silent_since": format_ts(u.rx),
            "silent_since_us": u.rx,
            "last_event": format_ts(u.newest),
            "expected": basis,
            "outage_after_s": s.outage_after_us / 1e6,
        }
        out.append(
            make_alarm(
                "DATA_OUTAGE",
                key=key,
                station_id=u.station_id,
                tank_id=u.uid if u.level == TANK else None,
                nozzle_id=u.uid if u.level == NOZZLE else None,
                ts_us=u.newest,
                message=f"no data from {what} {u.uid} for more than {minutes} min while expected "
                f"({basis}); last data received {format_ts(u.rx)}",
                evidence=evidence,
            )
        )

    # ------------------------------------------------------------------ reading
    def open_outages(self) -> Counter[str]:
        """Open outages by level (for /metrics)."""
        c: Counter[str] = Counter()
        for sw in list(self.stations.values()):
            if sw.outage is not None:
                c[STATION] += 1
            for u in list(sw.units.values()):
                if u.outage is not None:
                    c[u.level] += 1
        return c


# ---------------------------------------------------------------------- schedules
def hours_intervals(minutes: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """Opening hours (minutes after local midnight) as intervals of the day in µs; a
    close earlier than the open is past midnight."""
    a, b = (m * 60_000_000 for m in minutes)
    if a < b:
        return ((a, b),)
    return tuple(x for x in ((0, b), (a, US_PER_DAY)) if x[0] < x[1])


def learned_intervals(
    days: dict[int, int], day0: int, n_days: int, min_days: int, slot_us: int
) -> tuple[tuple[int, int], ...]:
    """The slots of the day with data on at least ``min_days`` of the ``n_days`` days
    before ``day0``, as intervals of the day in µs."""
    masks = [days[d] for d in range(day0 - n_days, day0) if d in days]
    if len(masks) < min_days:
        return ()
    out: list[tuple[int, int]] = []
    for k in range(US_PER_DAY // slot_us):
        bit = 1 << k
        if sum(1 for m in masks if m & bit) >= min_days:
            a = k * slot_us
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], a + slot_us)
            else:
                out.append((a, a + slot_us))
    return tuple(out)


def intersect(x: tuple[tuple[int, int], ...], y: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out = []
    for a, b in x:
        for c, d in y:
            lo, hi = max(a, c), min(b, d)
            if lo < hi:
                out.append((lo, hi))
    return tuple(sorted(out))


def expected_deadline(intervals: tuple[tuple[int, int], ...], since: int, need: int, offset_us: int) -> int | None:
    """The instant after ``since`` at which ``need`` µs of expected time (the daily
    ``intervals``) have passed; None if the days ahead hold too little of it."""
    acc = 0
    day = local_day(since, offset_us)
    for d in range(day, day + 9):
        base = d * US_PER_DAY - offset_us
        for a, b in intervals:
            lo, hi = max(base + a, since), base + b
            if hi <= lo:
                continue
            if acc + (hi - lo) >= need:
                return lo + (need - acc)
            acc += hi - lo
    return None


__all__ = ["Tick", "Watch", "WatchStart", "decode_tick", "STATION", "TANK", "NOZZLE"]
