"""What the console's pages read (SQLAlchemy Core over the store): headline figures,
the alarm list with filters and keyset paging (fast at 100 k alarms: every filter
has an index, and a page never counts or offsets), a nozzle's history. (The tank
witness's estimates: ``anxin.store.witness``.)

Station scope: ``stations`` None means every station (regulators); a set limits every
query to those stations (an operator sees only its own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select

from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_OFFSET_US, parse_ts
from anxin.ingest.principals import sender_of
from anxin.register.queries import coverage_of
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.outputs import alarm_dict
from anxin.store.results import int_sum

TERMINAL = ("confirmed", "false_alarm")
PAGE = 50


@dataclass
class AlarmFilter:
    rule: str | None = None
    severity: str | None = None
    district: str | None = None
    station_id: str | None = None
    status: str | None = None  # new | acknowledged | dispatched | on_site | confirmed | false_alarm | open
    since_us: int | None = None
    until_us: int | None = None


def _scoped(stations: Collection[str] | None, f: AlarmFilter, reg: Registry) -> list[str] | None:
    """The station ids the query may touch (None: no restriction)."""
    chosen: set[str] | None = None if stations is None else set(stations)
    if f.district:
        in_district = {s.station_id for s in reg.stations if s.district == f.district}
        chosen = in_district if chosen is None else chosen & in_district
    if f.station_id:
        chosen = {f.station_id} if chosen is None else chosen & {f.station_id}
    return None if chosen is None else sorted(chosen)


def alarm_page(
    store: Store,
    reg: Registry,
    f: AlarmFilter,
    *,
    stations: Collection[str] | None,
    before: tuple[int, int] | None = None,
    limit: int = PAGE,
) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """By event time, newest first (an alarm raised late — a witness finding, a record
    that came in late — takes its place among the others); returns (rows, the cursor
    (ts_us, ord) to pass as ``before`` for the next page)."""
    a, s = T.alarms.c, T.alarm_states.c
    q = (
        select(T.alarms, s.status, s.incident_id, s.work_order_id)
        .select_from(T.alarms.outerjoin(T.alarm_states, s.alarm_id == a.alarm_id))
        .order_by(a.ts_us.desc(), a.ord.desc())
        .limit(limit + 1)
    )
    conds: list[ColumnElement[bool]] = []
    ids = _scoped(stations, f, reg)
    if ids is not None:
        conds.append(a.station_id.in_(ids) if ids else a.station_id.is_(None))
    if f.rule:
        conds.append(a.rule == f.rule)
    if f.severity:
        conds.append(a.severity == f.severity)
    if f.since_us is not None:
        conds.append(a.ts_us >= f.since_us)
    if f.until_us is not None:
        conds.append(a.ts_us < f.until_us)
    if f.status == "new":
        conds.append(or_(s.status.is_(None), s.status == "new"))
    elif f.status == "open":
        conds.append(or_(s.status.is_(None), s.status.not_in(TERMINAL)))
    elif f.status:
        conds.append(s.status == f.status)
    if before is not None:
        ts_us, ord_ = before
        conds.append(or_(a.ts_us < ts_us, and_(a.ts_us == ts_us, a.ord < ord_)))
    if conds:
        q = q.where(and_(*conds))
    with store.engine.connect() as c:
        rows = c.execute(q).all()
    out = []
    for r in rows[:limit]:
        m = r._mapping
        d = alarm_dict(m)
        d.update(
            ord=m["ord"],
            status=m["status"] or "new",
            incident_id=m["incident_id"],
            work_order_id=m["work_order_id"],
            ts_us=m["ts_us"],
            raised_us=m["raised_us"],
        )
        out.append(d)
    nxt = (out[-1]["ts_us"], out[-1]["ord"]) if len(rows) > limit else None
    return out, nxt


def alarm(store: Store, alarm_id: str) -> dict[str, Any] | None:
    a, s = T.alarms.c, T.alarm_states.c
    with store.engine.connect() as c:
        r = c.execute(
            select(T.alarms, s.status, s.incident_id, s.work_order_id, s.case_id, s.closed_reason)
            .select_from(T.alarms.outerjoin(T.alarm_states, s.alarm_id == a.alarm_id))
            .where(a.alarm_id == alarm_id)
        ).first()
    if r is None:
        return None
    m = r._mapping
    d = alarm_dict(m)
    d.update({k: m[k] for k in ("ord", "ts_us", "incident_id", "work_order_id", "case_id", "closed_reason")})
    d["status"] = m["status"] or "new"
    return d


def _previous_day(day: str) -> str:
    return (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()


def figures(
    store: Store,
    reg: Registry,
    *,
    stations: Collection[str] | None,
    today: str,
    online_since_us: int,
    last_event_us: dict[str, int],
    now_us: int,
) -> dict[str, Any]:
    """Headline figures of the overview (一网感知); the verification figures at ``now_us``
    (the platform's clock, as 智慧检定 takes them)."""
    scope = [s.station_id for s in reg.stations if stations is None or s.station_id in stations]
    nozzles = [n for n in reg.nozzles if n.station_id in set(scope)]
    online = [s for s in scope if last_event_us.get(s, 0) >= online_since_us]
    a, s = T.alarms.c, T.alarm_states.c
    d = T.daily_sales.c

    def only(col, q):  # a regulator's figures cover every station: no IN list then
        return q if stations is None else q.where(col.in_(scope))

    with store.engine.connect() as c:
        by_day = {
            day: c.execute(only(d.station_id, select(int_sum(d.sales), int_sum(d.volume_ml)).where(d.day == day))).one()
            for day in (today, _previous_day(today))
        }
        status_rows = c.execute(
            only(
                a.station_id,
                select(s.status, func.count())
                .select_from(T.alarms.outerjoin(T.alarm_states, s.alarm_id == a.alarm_id))
                .group_by(s.status),
            )
        ).all()
    by_status: dict[str, int] = {}
    for k, v in status_rows:
        by_status[k or "new"] = by_status.get(k or "new", 0) + int(v)
    closed = sum(by_status.get(k, 0) for k in TERMINAL)
    # the register's own figures, at the platform's clock — what 智慧检定 shows
    covered, passed = coverage_of(store, reg, now_us=now_us, station_ids=None if stations is None else scope)
    return {
        "stations": len(scope),
        "stations_online": len(online),
        # when the stations last sent anything: "0 online" after a night reads with it
        "last_data_us": max((last_event_us.get(s_id, 0) for s_id in scope), default=0) or None,
        "nozzles": len(nozzles),
        "nozzles_online": sum(1 for n in nozzles if n.station_id in set(online)),
        "sales_today": int(by_day[today][0]),
        "volume_today_l": int(by_day[today][1]) / 1000.0,
        # the day before beside it: a morning's figure means little alone
        "sales_yesterday": int(by_day[_previous_day(today)][0]),
        "volume_yesterday_l": int(by_day[_previous_day(today)][1]) / 1000.0,
        "alarms_open": sum(by_status.values()) - closed,
        "alarms_closed": closed,
        "by_status": by_status,
        "verification_coverage": covered,
        "pass_rate": passed,
    }


def online(store: Store, reg: Registry, *, stations: Collection[str] | None, now_us: int) -> dict[str, Any]:
    """The online rate (在线率) over the last 24 h of the platform's clock, per district and
    in all (``anxin.reports.online``), with the DATA_OUTAGE alarms still open."""
    from anxin.reports.online import online_by_district, total

    parts = online_by_district(
        store, reg, lo_us=now_us - 86_400_000_000, hi_us=now_us, now_us=now_us, stations=stations
    )
    rows = [{"district": k, "rate": v.rate, "stations": v.stations, "open": v.open_outages} for k, v in parts.items()]
    t = total(parts)
    return {"rows": rows, "rate": t.rate, "open": t.open_outages}


def station_states(store: Store, reg: Registry, *, stations: Collection[str] | None) -> list[dict[str, Any]]:
    """Each station with its open alarms by severity: the map's colours."""
    a, s = T.alarms.c, T.alarm_states.c
    scope = [st for st in reg.stations if stations is None or st.station_id in stations]
    with store.engine.connect() as c:
        rows = c.execute(
            select(a.station_id, a.severity, func.count())
            .select_from(T.alarms.outerjoin(T.alarm_states, s.alarm_id == a.alarm_id))
            .where(or_(s.status.is_(None), s.status.not_in(TERMINAL)))
            .group_by(a.station_id, a.severity)
        ).all()
    open_: dict[str, dict[str, int]] = {}
    for st, sev, n in rows:
        open_.setdefault(st, {})[sev] = int(n)
    out = []
    for st in scope:
        o = open_.get(st.station_id, {})
        state = "critical" if o.get("critical") else "major" if o.get("major") else "minor" if o else "ok"
        out.append(
            {
                "station_id": st.station_id,
                "name": st.name,
                "district": st.district,
                "lat": st.lat,
                "lon": st.lon,
                "state": state,
                "open": sum(o.values()),
            }
        )
    return out


WORST = ("critical", "major", "minor")  # a district's shade: its stations' worst open alarm


def district_states(states: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per district of ``states`` (:func:`station_states`): its stations' worst open alarm
    (None: none open), how many are open and how many stations there are — the shade of
    the district on the overview's map."""
    out: dict[str, dict[str, Any]] = {}
    for s in states:
        d = out.setdefault(s["district"], {"state": None, "open": 0, "stations": 0})
        d["open"] += s["open"]
        d["stations"] += 1
        if s["state"] in WORST and (d["state"] is None or WORST.index(s["state"]) < WORST.index(d["state"])):
            d["state"] = s["state"]
    return out


def trends(store: Store, reg: Registry, *, stations: Collection[str] | None, days: list[str]) -> dict[str, Any]:
    """Alarms per local day and district, and sales volume per day (the overview's trend charts)."""
    district_of = {s.station_id: s.district for s in reg.stations}
    scope = [s for s in district_of if stations is None or s in stations]
    a = T.alarms.c
    day = func.substr(a.ts, 1, 10)
    lo = _local_midnight_us(days[0])
    hi = _local_midnight_us(days[-1]) + 86_400_000_000
    with store.engine.connect() as c:
        rows = c.execute(
            select(day, a.station_id, func.count()).where(a.ts_us >= lo, a.ts_us < hi).group_by(day, a.station_id)
        ).all()
        sales = c.execute(
            select(T.daily_sales.c.day, T.daily_sales.c.station_id, T.daily_sales.c.volume_ml).where(
                T.daily_sales.c.day.in_(days)
            )
        ).all()
    per: dict[str, dict[str, int]] = {}
    inside = set(scope)
    for d, st, n in rows:
        if st not in inside or d not in days:
            continue
        dist = district_of.get(st, "?")
        per.setdefault(dist, {}).setdefault(d, 0)
        per[dist][d] += int(n)
    vol: dict[str, float] = {}
    for d, st, v in sales:
        if st in inside:
            vol[d] = vol.get(d, 0.0) + int(v or 0) / 1000.0
    return {
        "days": days,
        "alarms_by_district": {k: [per[k].get(d, 0) for d in days] for k in sorted(per)},
        "volume_l": [vol.get(d, 0.0) for d in days],
    }


def _local_midnight_us(day: str) -> int:
    d = dt.date.fromisoformat(day)
    return (d - dt.date(1970, 1, 1)).days * 86_400_000_000 - LOCAL_OFFSET_US


def nozzle_history(store: Store, nozzle_id: str, *, limit: int = 200) -> dict[str, Any]:
    """The nozzle's recent alarms and verifications (its meter-error estimates:
    ``anxin.store.witness.nozzle_estimates``)."""
    a, v = T.alarms.c, T.verifications.c
    with store.engine.connect() as c:
        alarms = c.execute(
            select(a.ord, a.alarm_id, a.rule, a.severity, a.ts, a.message, a.seq, a.order_id)
            .where(a.nozzle_id == nozzle_id)
            .order_by(a.ord.desc())
            .limit(limit)
        ).all()
        ver = c.execute(select(v.ts, v.passed, v.result).where(v.nozzle_id == nozzle_id).order_by(v.ts.desc())).all()
        led = T.ledger.c
        keys = [f"{nozzle_id}/{parse_ts(r.ts)}" for r in ver]
        sources: dict[str, str] = {}
        if keys:  # who sent each one (contract v1.1 §C), through the ledger's partial index
            for key, source in c.execute(
                select(led.natural_key, led.source)
                .where(led.kind == literal_column("'verification'"), led.natural_key.in_(keys), ~led.quarantined)
                .order_by(led.id)
            ):
                sources.setdefault(key, source)
    verifications = []
    for r, key in zip(ver, keys):
        d = dict(r._mapping)
        source = sources.get(key)
        sender = sender_of(source) if source is not None else None
        d["sender"] = None if sender is None else f"{sender.role}:{sender.name}"
        d["refused"] = sender is not None and not sender.trusted  # a station's own: never shown as valid
        verifications.append(d)
    return {
        "alarms": [dict(r._mapping) for r in alarms],
        "verifications": verifications,
    }


def station_event_lines(store: Store, station_id: str, *, limit: int = 5000) -> list[tuple[bytes, bool]]:
    """(body, quarantined) of the station's module-event records in the ledger, newest
    first (its (station, time) index)."""
    led = T.ledger.c
    with store.engine.connect() as c:
        rows = c.execute(
            select(led.body, led.quarantined)
            .where(led.station_id == station_id, led.kind == "event")
            .order_by(led.event_time_us.desc())
            .limit(limit)
        ).all()
    return [(bytes(b), bool(q)) for b, q in rows]


def recent_verifications(store: Store, stations: Collection[str] | None, *, limit: int = 300) -> list[Any]:
    """The newest verification results (nozzle, station, ts, passed, result), of the
    stations given (None: all)."""
    v = T.verifications.c
    q = select(v.nozzle_id, v.station_id, v.ts, v.passed, v.result).order_by(v.ts.desc()).limit(limit)
    if stations is not None:
        q = q.where(v.station_id.in_(sorted(stations)))
    with store.engine.connect() as c:
        return list(c.execute(q).all())


def nozzle_dispensings(
    store: Store, station_id: str, nozzle_id: str, *, limit: int = 20, until_us: int | None = None
) -> dict[str, Any]:
    """The nozzle's last ``limit`` dispensings as received (metering records: body,
    signature verdict, quarantine) — the last before ``until_us`` if given (an alarm's
    page: the dispensings around it) — and its station's sales from an hour before the
    first to an hour after the last (their bodies name the nozzle; the timeline pairs them)."""
    led = T.ledger.c
    where = [
        led.station_id == station_id,
        led.kind == literal_column("'metering'"),
        led.natural_key.startswith(f"{nozzle_id}/", autoescape=True),
    ]
    if until_us is not None:
        where.append(led.event_time_us <= until_us)
    with store.engine.connect() as c:
        meter = c.execute(
            select(led.body, led.verdict, led.quarantined, led.event_time_us)
            .where(*where)
            .order_by(led.event_time_us.desc(), led.id.desc())
            .limit(limit)
        ).all()
        sales: Sequence[Any] = ()
        if meter:
            lo, hi = meter[-1].event_time_us - 3_600_000_000, meter[0].event_time_us + 3_600_000_000
            sales = c.execute(
                select(led.body, led.event_time_us)
                .where(
                    led.station_id == station_id,
                    led.kind == literal_column("'settlement'"),
                    led.event_time_us.between(lo, hi),
                    ~led.quarantined,
                )
                .order_by(led.event_time_us)
            ).all()

    def body(raw: bytes) -> dict[str, Any]:
        try:
            doc = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return {}
        return doc if isinstance(doc, dict) else {}

    metering = [
        {"rec": body(r.body), "verdict": r.verdict, "quarantined": r.quarantined, "t_us": r.event_time_us}
        for r in meter
    ]
    settled = [{"rec": d, "t_us": r.event_time_us} for r in sales if (d := body(r.body)).get("nozzle_id") == nozzle_id]
    return {"metering": metering, "sales": settled}
