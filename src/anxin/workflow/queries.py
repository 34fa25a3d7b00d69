"""What the console reads: an alarm's state, work orders (all, an inspector's, the
overdue ones), incidents, and alarm counts by triage status; and the read the writers
make inside their transaction (an alarm's state row)."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Connection, func, select

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.workflow._db import UnknownAlarm, state_of
from anxin.workflow.lifecycle import STATUSES, AlarmState


class WorkOrder(msgspec.Struct, kw_only=True, frozen=True):
    """A work order (工单): an inspector sent to a station for an alarm."""

    id: int
    alarm_id: str
    incident_id: int | None
    station_id: str
    inspector: str
    due_us: int
    status: str  # open | reported | closed
    result: str | None
    created_us: int
    reported_us: int | None


class Incident(msgspec.Struct, kw_only=True, frozen=True):
    id: int
    station_id: str
    nozzle_id: str | None
    first_ts_us: int
    last_ts_us: int
    alarms: int
    status: str  # open | closed


def read_state_row(conn: Connection, alarm_id: str) -> Any | None:
    return conn.execute(select(T.alarm_states).where(T.alarm_states.c.alarm_id == alarm_id)).first()


def alarm_state(store: Store, alarm_id: str) -> AlarmState:
    """The alarm's triage state (``new`` if nobody touched it); UnknownAlarm if there is
    no such alarm."""
    with store.engine.connect() as conn:
        if conn.execute(select(T.alarms.c.ord).where(T.alarms.c.alarm_id == alarm_id)).first() is None:
            raise UnknownAlarm(f"no alarm {alarm_id!r}")
        return state_of(alarm_id, read_state_row(conn, alarm_id))


def work_orders(store: Store, *, inspector: str | None = None, status: str | None = None) -> list[WorkOrder]:
    """Work orders, oldest first, optionally of one inspector and/or in one status."""
    wo = T.work_orders.c
    q = select(T.work_orders).order_by(wo.id)
    if inspector is not None:
        q = q.where(wo.inspector == inspector)
    if status is not None:
        q = q.where(wo.status == status)
    return _work_orders(store, q)


def alarm_headings(store: Store, alarm_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rule, nozzle and event time of these alarms, by id: what a list names an
    alarm by (its id is no word for a reader)."""
    a = T.alarms.c
    out: dict[str, dict[str, Any]] = {}
    ids = sorted(set(alarm_ids))
    with store.engine.connect() as c:
        for i in range(0, len(ids), 500):
            rows = c.execute(select(a.alarm_id, a.rule, a.nozzle_id, a.ts_us).where(a.alarm_id.in_(ids[i : i + 500])))
            out.update({r.alarm_id: {"rule": r.rule, "nozzle_id": r.nozzle_id, "ts_us": r.ts_us} for r in rows})
    return out


def work_order_place(store: Store, work_order_id: int) -> dict[str, str] | None:
    """The alarm and station of one work order (None: no such order) — what a page needs
    to decide who may see it."""
    w = T.work_orders.c
    with store.engine.connect() as c:
        row = c.execute(select(w.alarm_id, w.station_id).where(w.id == work_order_id)).first()
    return None if row is None else {"alarm_id": row.alarm_id, "station_id": row.station_id}


def overdue_work_orders(store: Store, *, now_us: int) -> list[WorkOrder]:
    """Open work orders (nobody reported yet) whose due time is before ``now_us``, most
    overdue first."""
    wo = T.work_orders.c
    return _work_orders(
        store, select(T.work_orders).where(wo.status == "open", wo.due_us < now_us).order_by(wo.due_us, wo.id)
    )


def incidents(store: Store, *, status: str | None = None, station_ids: set[str] | None = None) -> list[Incident]:
    """Incidents, newest first, optionally in one status and/or of some stations."""
    i = T.incidents.c
    q = select(T.incidents).order_by(i.id.desc())
    if status is not None:
        q = q.where(i.status == status)
    if station_ids is not None:
        q = q.where(i.station_id.in_(sorted(station_ids)))
    with store.engine.connect() as conn:
        return [Incident(**_ints(r._mapping, "first_ts_us", "last_ts_us")) for r in conn.execute(q).all()]


def counts_by_status(store: Store, station_ids: set[str] | None = None) -> dict[str, int]:
    """How many alarms are in each triage status (every status present, 0 if none),
    of all stations or of ``station_ids`` (an operator's, a district's)."""
    a, s = T.alarms.c, T.alarm_states.c
    status = func.coalesce(s.status, "new")
    q = select(status, func.count()).select_from(T.alarms.outerjoin(T.alarm_states, s.alarm_id == a.alarm_id))
    if station_ids is not None:
        q = q.where(a.station_id.in_(sorted(station_ids)))
    out: dict[str, int] = dict.fromkeys(STATUSES, 0)
    with store.engine.connect() as conn:
        for st, n in conn.execute(q.group_by(status)).all():
            out[st] = int(n)
    return out


def _work_orders(store: Store, q: Any) -> list[WorkOrder]:
    with store.engine.connect() as conn:
        return [WorkOrder(**_ints(r._mapping, "due_us", "created_us")) for r in conn.execute(q).all()]


def _ints(m: Any, *keys: str) -> dict[str, Any]:
    d = dict(m)
    for k in keys:
        d[k] = int(d[k])
    return d
