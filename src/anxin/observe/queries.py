"""The receipt times of the records a pairing alarm is about (for the sale → alarm
histogram): the ledger rows of its metering record and its settlement, found through
the (station, event time) index."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select

from anxin.contract.alarm import Alarm
from anxin.contract.times import parse_ts
from anxin.store import schema as T
from anxin.store.database import Store

L = T.ledger.c


def sale_keys(a: Alarm) -> list[tuple[str, str]]:
    """(kind, natural key) of the records of the sale ``a`` is about."""
    keys = []
    if a.order_id is not None:
        keys.append(("settlement", f"{a.station_id}/{a.order_id}"))
    if a.nozzle_id is not None and a.seq is not None and a.rule != "UNMATCHED_SETTLEMENT":  # (its seq is the POS's)
        keys.append(("metering", f"{a.nozzle_id}/{a.seq}"))
    return keys


def first_receipts(store: Store, alarms: Sequence[Alarm], *, window_us: int) -> dict[str, int]:
    """alarm_id → the earliest receipt time (µs) of its sale's records in the ledger; an
    alarm whose records are not found (none within ``window_us`` of its time) is left out.
    One query for all of ``alarms``."""
    terms = []
    wanted: dict[tuple[str, str, str], str] = {}
    for a in alarms:
        t = parse_ts(a.ts)
        keys = sale_keys(a)
        for kind, key in keys:
            wanted[(a.station_id, kind, key)] = a.alarm_id
        if keys:
            terms.append(
                and_(
                    L.station_id == a.station_id,
                    L.event_time_us.between(t - window_us, t + window_us),
                    L.natural_key.in_([k for _, k in keys]),
                )
            )
    if not terms:
        return {}
    stmt = (
        select(L.station_id, L.kind, L.natural_key, func.min(L.received_us))
        .where(or_(*terms), L.kind.in_(["metering", "settlement"]))
        .group_by(L.station_id, L.kind, L.natural_key)
    )
    out: dict[str, int] = {}
    with store.engine.connect() as c:
        for station, kind, key, received in c.execute(stmt):
            alarm_id = wanted.get((station, kind, key))
            if alarm_id is not None:
                out[alarm_id] = min(int(received), out.get(alarm_id, int(received)))
    return out
