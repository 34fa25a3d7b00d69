"""The figures of an agency export: per station, local day and fuel grade, the volume the
signed metering measured against the station's settlements, and per station and day
what makes a figure doubtful.

Definitions (``docs/exports.md``):

* **metered** (签名计量): metering records of a nozzle with an independent sealed module
  (``anti_cheat``), signature verified, not quarantined, the first arrival of its
  ``(nozzle_id, seq)`` (a different record under the same number is the
  ``DUPLICATE_SEQ`` alarm's, never a second dispensing), by the local day of ``end``.
  Its value at the posted price is ``round_half_up(volume_ml × price / 1000)`` per
  dispensing, the price in force at ``start`` (contract v1 §5).
* **board** (主板计量): the same from nozzles without an independent module: their record
  can be falsified together with the sale, so it is shown, never counted as metered.
* **settled** (结算): the POS's settlements, first arrival of each ``order_id``, not
  quarantined, by the local day of ``ts``; those on nozzles without a module are counted
  apart too, so the difference compares like with like:
  ``difference = (settled − settled on board nozzles) − metered``.
* **doubtful** (存疑) station-day: any alarm with its event time in the day, any record
  quarantined or not verified, a station-level data outage (``DATA_OUTAGE``, the online
  rate's definition, :mod:`anxin.reports.online`) or no data at all: not one record of
  the station (sale, metering, tank reading…) with its event time in the day.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec

from anxin.contract.registry import Registry, Station
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY, local_day, parse_ts, to_us
from anxin.exports.queries import active_days, alarm_times, quarantined_times, sale_rows
from anxin.reports.online import online_by_district
from anxin.store.database import Store

EPOCH_DAY = dt.date(1970, 1, 1)


class _Metering(msgspec.Struct):
    nozzle_id: str
    volume_ml: int
    start: str


class _Settlement(msgspec.Struct):
    nozzle_id: str
    volume_ml: int
    amount_fen: int


@dataclass
class Sales:
    """One station's sales of one fuel grade over a day (or a period): mL and fen."""

    metered_n: int = 0
    metered_ml: int = 0
    metered_value_fen: int = 0  # at the posted price
    unpriced_n: int = 0  # metered dispensings with no posted price in force (not in the value)
    board_n: int = 0
    board_ml: int = 0
    settled_n: int = 0
    settled_ml: int = 0
    settled_fen: int = 0
    settled_board_ml: int = 0  # of settled_ml: on nozzles without an independent module
    settled_board_fen: int = 0

    @property
    def difference_ml(self) -> int:
        """Settled (on nozzles with a module) − metered: positive, sold more than measured."""
        return self.settled_ml - self.settled_board_ml - self.metered_ml

    @property
    def difference_fen(self) -> int:
        return self.settled_fen - self.settled_board_fen - self.metered_value_fen

    def add(self, o: Sales) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(o, name))

    def as_dict(self) -> dict[str, int]:
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["difference_ml"], d["difference_fen"] = self.difference_ml, self.difference_fen
        return d


@dataclass
class Quality:
    """What makes a station's figures of a day (or a period) doubtful."""

    alarms: Counter[str] = field(default_factory=Counter)  # rule → alarms with their event time in it
    excluded: int = 0  # records quarantined, or not verified: never counted
    outage_us: int = 0  # station-level data outage within its expected time
    expected_us: int = 0
    no_data: bool = False  # no record at all of the station with its event time in the day
    outage_days: int = 0  # (a period's) days with an outage
    no_data_days: int = 0  # (a period's) days without any record

    @property
    def doubtful(self) -> bool:
        return bool(self.alarms) or self.excluded > 0 or self.outage_us > 0 or self.no_data

    @property
    def alarm_count(self) -> int:
        return sum(self.alarms.values())

    def add(self, o: Quality) -> None:
        self.alarms.update(o.alarms)
        self.excluded += o.excluded
        self.outage_us += o.outage_us
        self.expected_us += o.expected_us
        self.no_data = self.no_data or o.no_data
        self.outage_days += o.outage_days + (1 if o.outage_us > 0 else 0)
        self.no_data_days += o.no_data_days + (1 if o.no_data else 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "alarms": self.alarm_count,
            "alarms_by_rule": dict(sorted(self.alarms.items())),
            "excluded_records": self.excluded,
            "outage_minutes": self.outage_us // 60_000_000,
            "no_data": self.no_data,
            "doubtful": self.doubtful,
        }


@dataclass
class Figures:
    """A period's figures for a set of stations (registry order: district, then id)."""

    start: str
    end: str
    as_of_us: int
    stations: list[Station]
    days: list[str]
    sales: dict[tuple[str, str, str], Sales]  # (station, day, product) → its sales
    quality: dict[tuple[str, str], Quality]  # (station, day) → for every station and day

    def products(self, station_id: str, day: str | None = None) -> list[str]:
        return sorted({p for s, d, p in self.sales if s == station_id and (day is None or d == day)})

    def station_sales(self, station_id: str) -> dict[str, Sales]:
        """Product → the station's sales over the period."""
        out: dict[str, Sales] = {}
        for (s, _d, p), v in self.sales.items():
            if s == station_id:
                out.setdefault(p, Sales()).add(v)
        return dict(sorted(out.items()))

    def station_quality(self, station_id: str) -> Quality:
        q = Quality()
        for d in self.days:
            q.add(self.quality[(station_id, d)])
        q.no_data = q.no_data_days > 0
        return q


def day_bounds(day: dt.date) -> tuple[int, int]:
    """[start, end) of local day ``day`` in µs."""
    n = (day - EPOCH_DAY).days
    return n * US_PER_DAY - LOCAL_OFFSET_US, (n + 1) * US_PER_DAY - LOCAL_OFFSET_US


def _day_text(us: int) -> str:
    return (EPOCH_DAY + dt.timedelta(days=local_day(us))).isoformat()


SLACK_DAYS = 3  # a written date is its instant's within ±14 h (its offset): days to spare


def _steady_prices(registry: Registry, lo: int, hi: int) -> set[tuple[str, str]]:
    """(station, product) whose posted price does not change from :data:`SLACK_DAYS`
    before ``lo`` to as many after ``hi``: a dispensing of theirs whose ``start`` is
    written with a date within 2 days of the period has the price in force at its
    ``end`` (the event time, already µs) — read so instead of parsing each ``start``."""
    slack = SLACK_DAYS * US_PER_DAY
    changing = {(p.station_id, p.product) for p in registry.prices if lo - slack <= to_us(p.from_) <= hi + slack}
    return {(p.station_id, p.product) for p in registry.prices} - changing


def _near(start: str, lo: dt.date, hi: dt.date) -> bool:
    """Is ``start``'s written date within [lo, hi]? (False when it cannot be read so.)"""
    try:
        return lo <= dt.date.fromisoformat(start[:10]) <= hi
    except ValueError:
        return False


def compute(
    store: Store, registry: Registry, *, stations: Iterable[Station], start: dt.date, end: dt.date, now_us: int
) -> Figures:
    """The figures of local days ``start``..``end`` (inclusive) for ``stations``."""
    chosen = sorted(stations, key=lambda s: (s.district, s.station_id))
    ids = [s.station_id for s in chosen]
    days = [(start + dt.timedelta(days=i)) for i in range((end - start).days + 1)]
    day_texts = [d.isoformat() for d in days]
    lo, hi = day_bounds(start)[0], day_bounds(end)[1]
    quality = {(s, d): Quality() for s in ids for d in day_texts}
    sales: dict[tuple[str, str, str], Sales] = {}
    seen: set[tuple[str, str]] = set()
    meter_dec, sale_dec = msgspec.json.Decoder(_Metering), msgspec.json.Decoder(_Settlement)
    first_day = (start - EPOCH_DAY).days
    steady = _steady_prices(registry, lo, hi)
    near_lo, near_hi = start - dt.timedelta(days=2), end + dt.timedelta(days=2)
    for r in sale_rows(store, stations=ids, lo_us=lo, hi_us=hi):
        key = (r.kind, r.natural_key)
        if key in seen:  # a later record under the same number: the first arrival counts
            continue
        seen.add(key)
        day = day_texts[local_day(r.event_time_us) - first_day]
        try:
            rec = (meter_dec if r.kind == "metering" else sale_dec).decode(r.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            quality[(r.station_id, day)].excluded += 1
            continue
        nozzle = registry.nozzle_by_id.get(rec.nozzle_id)
        if nozzle is None or nozzle.station_id != r.station_id or (r.kind == "metering" and r.verdict != 0):
            quality[(r.station_id, day)].excluded += 1
            continue
        b = sales.setdefault((r.station_id, day, nozzle.product), Sales())
        if isinstance(rec, _Metering):
            if not nozzle.anti_cheat:
                b.board_n += 1
                b.board_ml += rec.volume_ml
                continue
            b.metered_n += 1
            b.metered_ml += rec.volume_ml
            quick = (r.station_id, nozzle.product) in steady and _near(rec.start, near_lo, near_hi)
            at = r.event_time_us if quick else parse_ts(rec.start)
            price = registry.posted_price(r.station_id, nozzle.product, at)
            if price is None:
                b.unpriced_n += 1
            else:
                b.metered_value_fen += (rec.volume_ml * price + 500) // 1000
        else:
            b.settled_n += 1
            b.settled_ml += rec.volume_ml
            b.settled_fen += rec.amount_fen
            if not nozzle.anti_cheat:
                b.settled_board_ml += rec.volume_ml
                b.settled_board_fen += rec.amount_fen
    for sid, t in quarantined_times(store, stations=ids, lo_us=lo, hi_us=hi):
        quality[(sid, _day_text(t))].excluded += 1
    for sid, t, rule in alarm_times(store, stations=ids, lo_us=lo, hi_us=hi):
        quality[(sid, _day_text(t))].alarms[rule] += 1
    active = active_days(store, stations=ids, lo_us=lo, hi_us=hi, offset_us=LOCAL_OFFSET_US)
    for d, text in zip(days, day_texts, strict=True):
        day_no = (d - EPOCH_DAY).days
        d_lo, d_hi = day_bounds(d)
        parts = online_by_district(store, registry, lo_us=d_lo, hi_us=d_hi, now_us=now_us, stations=ids)
        seen_online: dict[str, tuple[int, int]] = {}
        for part in parts.values():
            seen_online.update(part.by_station)
        for sid in ids:
            q = quality[(sid, text)]
            if sid in seen_online:
                q.expected_us, q.outage_us = seen_online[sid]
            q.no_data = (sid, day_no) not in active
    return Figures(
        start=day_texts[0],
        end=day_texts[-1],
        as_of_us=now_us,
        stations=chosen,
        days=day_texts,
        sales=dict(sorted(sales.items())),
        quality=quality,
    )
