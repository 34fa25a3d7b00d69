"""Incidents (事件): repeated alarms of one nozzle — or of the station, for alarms about
no nozzle — grouped while the incident is open, so the console shows one thing to
handle instead of a stream.

* A new alarm joins the open incident of its (station, nozzle), extending it (its
  ``last_ts_us``, one more alarm), or opens one; its ``alarm_states`` row (created as
  ``new`` if there is none) points at the incident.
* Attaching is idempotent: an alarm already in an incident is left alone, and so is an
  alarm already closed (confirmed or false alarm) — it has nothing left to group.
* An incident closes when all its alarms are terminal (``apply`` calls
  ``close_if_done``); the next alarm of that nozzle opens a new one.
* There is no time window: an incident stays open as long as one of its alarms is.

Wiring: ``service.subscribe(incident_listener(store))`` on the IngestService, and
``backfill_incidents(store, now_us=…)`` once for alarms raised before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, func, select, update

from anxin.contract.alarm import Alarm
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.database import now_us as wall_clock_us
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.workflow._db import SYSTEM
from anxin.workflow.lifecycle import TERMINAL

_CHUNK = 500
_TERMINAL = sorted(TERMINAL)


def attach_incidents(store: Store, alarms: Iterable[Alarm | str], *, now_us: int) -> int:
    """Attach new alarms (contract Alarm structs or alarm ids) to incidents, in one
    transaction per 500 alarms; returns how many were attached (0 when all were already)."""
    ids = sorted({a if isinstance(a, str) else a.alarm_id for a in alarms})
    return sum(_attach_chunk(store, ids[k : k + _CHUNK], now_us) for k in range(0, len(ids), _CHUNK))


def backfill_incidents(store: Store, *, now_us: int) -> int:
    """Attach every stored alarm not yet in an incident and not closed (e.g. those raised
    before incidents existed); returns how many were attached."""
    a, s = T.alarms.c, T.alarm_states.c
    attached, after = 0, 0
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(
                select(a.ord, a.alarm_id)
                .select_from(T.alarms.outerjoin(T.alarm_states, s.alarm_id == a.alarm_id))
                .where(a.ord > after, s.incident_id.is_(None), func.coalesce(s.status, "new").not_in(_TERMINAL))
                .order_by(a.ord)
                .limit(_CHUNK)
            ).all()
        if not rows:
            return attached
        attached += _attach_chunk(store, sorted(r.alarm_id for r in rows), now_us)
        after = int(rows[-1].ord)


def incident_listener(store: Store, *, clock: Callable[[], int] = wall_clock_us) -> Callable[[list[Alarm]], None]:
    """A listener for ``IngestService.subscribe``: attaches the new alarms it is given."""

    def listener(alarms: list[Alarm]) -> None:
        if alarms:
            attach_incidents(store, alarms, now_us=clock())

    return listener


def close_if_done(conn: Connection, incident_id: int) -> bool:
    """Close the incident if it is open and all its alarms are terminal (in the caller's
    transaction); returns whether it was closed now."""
    i, s = T.incidents.c, T.alarm_states.c
    row = conn.execute(select(i.status).where(i.id == incident_id).with_for_update()).first()
    if row is None or row.status != "open":
        return False
    pending = conn.execute(
        select(func.count()).where(s.incident_id == incident_id, s.status.not_in(_TERMINAL))
    ).scalar_one()
    if pending:
        return False
    conn.execute(update(T.incidents).where(i.id == incident_id).values(status="closed"))
    return True


def _attach_chunk(store: Store, ids: list[str], now_us: int) -> int:
    if not ids:
        return 0
    a, s = T.alarms.c, T.alarm_states.c
    with write_transaction(store) as conn:
        # Lock order (PostgreSQL): the alarms (sorted), then the groups, then incidents —
        # ``apply`` takes one alarm, then its incident, so the two never wait in a cycle.
        rows = conn.execute(
            select(a.ord, a.alarm_id, a.station_id, a.nozzle_id, a.ts_us)
            .where(a.alarm_id.in_(ids))
            .order_by(a.alarm_id)
            .with_for_update()
        ).all()
        states = {r.alarm_id: r for r in conn.execute(select(T.alarm_states).where(s.alarm_id.in_(ids))).all()}
        todo = [r for r in rows if _needs_incident(states.get(r.alarm_id))]
        if store.dialect == "postgresql":
            # No row to lock while a group has no open incident: an advisory lock per group
            # keeps two concurrent attaches from opening two incidents for one nozzle.
            for key in sorted({_group_key(r.station_id, r.nozzle_id) for r in todo}):
                conn.execute(select(func.pg_advisory_xact_lock(key)))
        for r in sorted(todo, key=lambda r: r.ord):  # in the order raised
            incident_id = _join_or_open(conn, r.station_id, r.nozzle_id, int(r.ts_us))
            if r.alarm_id in states:
                conn.execute(
                    update(T.alarm_states)
                    .where(s.alarm_id == r.alarm_id, s.incident_id.is_(None))
                    .values(incident_id=incident_id)
                )
            else:
                conn.execute(
                    T.alarm_states.insert().values(
                        alarm_id=r.alarm_id, status="new", incident_id=incident_id, updated_us=now_us, updated_by=SYSTEM
                    )
                )
    return len(todo)


def _needs_incident(state: Any | None) -> bool:
    return state is None or (state.incident_id is None and state.status not in TERMINAL)


def _join_or_open(conn: Connection, station_id: str, nozzle_id: str | None, ts_us: int) -> int:
    i = T.incidents.c
    same = i.nozzle_id.is_(None) if nozzle_id is None else i.nozzle_id == nozzle_id
    row = conn.execute(
        select(i.id, i.first_ts_us, i.last_ts_us)
        .where(i.station_id == station_id, same, i.status == "open")
        .order_by(i.id)
        .limit(1)
        .with_for_update()
    ).first()
    if row is None:
        res = conn.execute(
            T.incidents.insert().values(
                station_id=station_id, nozzle_id=nozzle_id, first_ts_us=ts_us, last_ts_us=ts_us, alarms=1, status="open"
            )
        )
        return inserted_id(res)
    conn.execute(
        update(T.incidents)
        .where(i.id == row.id)
        .values(
            alarms=i.alarms + 1,
            first_ts_us=min(int(row.first_ts_us), ts_us),
            last_ts_us=max(int(row.last_ts_us), ts_us),
        )
    )
    return int(row.id)


def _group_key(station_id: str, nozzle_id: str | None) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock`` from (station, nozzle)."""
    text = f"anxin.incident\x1f{station_id}\x1f{nozzle_id or ''}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
