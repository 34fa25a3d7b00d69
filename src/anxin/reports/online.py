"""Online rate (在线率): the share of expected station-time with data, from the outage record.

Definitions (on the platform's clock — when data arrived, not the records' own times):

* a station's **expected time** is its registry opening hours (``"hours"``) each local
  day, or the whole day when the registry gives none, from the platform's first accepted
  record of the station on (``station_watch``: a station never heard from is not counted —
  the overview's "stations online" shows it);
* its **outage time** is the part of its expected time inside a station-level
  ``DATA_OUTAGE``: from the receipt of its last data before the silence
  (``silent_since``) to the receipt of data again (the alarm's ``resumed`` note), or to
  now while the outage is open;
* the **online rate** of a set of stations (a district, the city) over a period is
  ``1 − Σ outage time / Σ expected time`` (None when nothing was expected).

Only station-level outages count: a silent tank gauge or module is its own alarm, but the
station still reports. The figure is station-time, not device-time. (The alarms are read
by :func:`anxin.reports.queries.outage_inputs`.)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import msgspec

from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY
from anxin.engine.clock import hours_intervals
from anxin.reports.queries import outage_inputs
from anxin.store.database import Store

SLACK_US = US_PER_DAY  # an outage alarm's ts (newest event time) is at most minutes after its silence began


@dataclass
class Online:
    """Expected and outage station-time (µs) of a set of stations."""

    expected_us: int = 0
    outage_us: int = 0
    stations: int = 0  # stations monitored in the period
    open_outages: int = 0  # DATA_OUTAGE of any level still open (now)
    by_station: dict[str, tuple[int, int]] = field(default_factory=dict)  # station → (expected, outage)

    @property
    def rate(self) -> float | None:
        return 1.0 - self.outage_us / self.expected_us if self.expected_us > 0 else None

    def add(self, other: Online) -> None:
        self.expected_us += other.expected_us
        self.outage_us += other.outage_us
        self.stations += other.stations
        self.open_outages += other.open_outages
        self.by_station.update(other.by_station)


def expected_within(lo: int, hi: int, hours: tuple[int, int] | None, offset_us: int = LOCAL_OFFSET_US) -> int:
    """µs of [lo, hi) inside the daily opening ``hours`` (minutes after local midnight;
    None: all of it)."""
    if hi <= lo:
        return 0
    if hours is None:
        return hi - lo
    intervals = hours_intervals(hours)
    total = 0
    first, last = (lo + offset_us) // US_PER_DAY, (hi - 1 + offset_us) // US_PER_DAY
    for d in range(first, last + 1):
        base = d * US_PER_DAY - offset_us
        for a, b in intervals:
            total += max(0, min(hi, base + b) - max(lo, base + a))
    return total


def online_by_district(
    store: Store,
    registry: Registry,
    *,
    lo_us: int,
    hi_us: int,
    now_us: int,
    stations: Collection[str] | None = None,
) -> dict[str, Online]:
    """The online rate's parts per district over [``lo_us``, ``hi_us``) (clipped to
    ``now_us``), for the registered stations in ``stations`` (None: every one)."""
    scope = [s for s in registry.stations if stations is None or s.station_id in stations]
    ids = [s.station_id for s in scope]
    hi = min(hi_us, now_us)
    since, rows = outage_inputs(store, ids, before_us=hi + SLACK_US)
    outages: dict[str, list[tuple[int, int]]] = {}
    open_: dict[str, int] = {}
    for sid, tank, nozzle, ev in rows:
        ev = msgspec.json.decode(ev) if isinstance(ev, str | bytes) else ev
        resumed = ev.get("resumed")
        end = int(resumed["received_us"]) if isinstance(resumed, dict) and "received_us" in resumed else None
        if end is None:
            open_[sid] = open_.get(sid, 0) + 1
        if tank is None and nozzle is None and "silent_since_us" in ev:
            outages.setdefault(sid, []).append((int(ev["silent_since_us"]), now_us if end is None else end))
    out: dict[str, Online] = {}
    for s in scope:
        o = out.setdefault(s.district, Online())
        o.open_outages += open_.get(s.station_id, 0)
        start = since.get(s.station_id)
        if start is None:
            continue
        lo = max(lo_us, int(start))
        if lo >= hi:
            continue
        hours = s.open_minutes()
        expected = expected_within(lo, hi, hours)
        lost = sum(expected_within(max(lo, x), min(hi, y), hours) for x, y in outages.get(s.station_id, ()))
        o.stations += 1
        o.expected_us += expected
        o.outage_us += min(lost, expected)
        o.by_station[s.station_id] = (expected, min(lost, expected))
    return dict(sorted(out.items()))


def total(parts: dict[str, Online]) -> Online:
    t = Online()
    for o in parts.values():
        t.add(o)
    return t
