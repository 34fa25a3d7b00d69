"""Applying a triage action to the store: one transaction reads the alarm's state,
runs the pure ``transition``, writes the state, the work order and the case it implies,
closes the alarm's incident when it was its last open alarm, and appends one audit
entry — all or nothing.

Concurrency: two applies on one alarm never both succeed from the same prior state.
On PostgreSQL the alarm's row is locked (``FOR UPDATE``) before its state is read; on
SQLite the transaction takes the write lock first (``BEGIN IMMEDIATE``). The write of
the state is also conditional on the state read (status, ``updated_us``, work order):
if it matched nothing, ConcurrentChange is raised and the transaction rolls back.

Incidents are written here too (:mod:`anxin.workflow.incidents` says how alarms group):
attaching new alarms, the backfill, and closing an incident whose alarms are all closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec
from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from anxin.audit import append
from anxin.contract.alarm import Alarm
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision.cases import audit_opened, insert_case
from anxin.workflow._db import SYSTEM, ConcurrentChange, UnknownAlarm, state_of
from anxin.workflow.lifecycle import (
    TERMINAL,
    Action,
    AlarmState,
    Confirm,
    Dismiss,
    Dispatch,
    Report,
    action_fields,
    action_name,
    transition,
)
from anxin.workflow.queries import read_state_row

_CHUNK = 500
_TERMINAL = sorted(TERMINAL)


def audit(
    conn: Connection, *, actor: str, action: str, subject: str, reason: str, data: dict[str, Any], now_us: int
) -> int:
    """One hash-chained audit entry in the caller's transaction."""
    return append(conn, actor=actor, action=action, subject=subject, reason=reason, data=data, now_us=now_us)


def apply(store: Store, alarm_id: str, action: Action, *, actor: str, reason: str, now_us: int) -> AlarmState:
    """Apply ``action`` to the alarm as ``actor`` and return its new state.

    Raises UnknownAlarm (no such alarm), TransitionError (not allowed in its status, or
    a required field blank) or ConcurrentChange (someone else changed it meanwhile);
    nothing is written then.
    """
    if not actor.strip():
        raise ValueError("an action needs an actor")
    name = action_name(action)
    a = T.alarms.c
    with write_transaction(store) as conn:
        alarm = conn.execute(select(a.station_id, a.nozzle_id).where(a.alarm_id == alarm_id).with_for_update()).first()
        if alarm is None:
            raise UnknownAlarm(f"no alarm {alarm_id!r}")
        row = read_state_row(conn, alarm_id)
        before = state_of(alarm_id, row)
        after = msgspec.structs.replace(transition(before, action, now_us=now_us), updated_by=actor)
        data: dict[str, Any] = {"before": before.status, "after": after.status, "action": action_fields(action)}
        after = _effects(conn, alarm.station_id, before, after, action, actor, now_us, data)
        _save(conn, before, after, exists=row is not None)
        if after.status in TERMINAL and after.incident_id is not None:
            data["incident_id"] = after.incident_id
            data["incident_closed"] = close_if_done(conn, after.incident_id)
        why = reason.strip() or (action.reason.strip() if isinstance(action, Dismiss) else "")
        audit(
            conn, actor=actor, action=f"alarm.{name}", subject=f"alarm:{alarm_id}", reason=why, data=data, now_us=now_us
        )
        if isinstance(action, Confirm) and after.case_id is not None:  # then the case's own first entry
            audit_opened(
                conn,
                after.case_id,
                station_id=alarm.station_id,
                source=f"alarm:{alarm_id}",
                summary=action.summary.strip(),
                actor=actor,
                now_us=now_us,
            )
    return after


def _effects(
    conn: Connection,
    station_id: str,
    before: AlarmState,
    after: AlarmState,
    action: Action,
    actor: str,
    now_us: int,
    data: dict[str, Any],
) -> AlarmState:
    """The work order and case rows an action implies; returns the state with their ids."""
    wo = T.work_orders.c
    if isinstance(action, Dispatch):
        if before.work_order_id is not None:  # a re-dispatch: the inconclusive visit's order is done
            _close_work_order(conn, before.work_order_id)
            data["previous_work_order_id"] = before.work_order_id
        res = conn.execute(
            T.work_orders.insert().values(
                alarm_id=before.alarm_id,
                incident_id=before.incident_id,
                station_id=station_id,
                inspector=action.inspector.strip(),
                due_us=action.due_us,
                status="open",
                created_us=now_us,
            )
        )
        work_order_id = inserted_id(res)
        data["work_order_id"] = work_order_id
        return msgspec.structs.replace(after, work_order_id=work_order_id)
    if isinstance(action, Report):
        if before.work_order_id is None:
            raise RuntimeError(f"alarm {before.alarm_id} is dispatched but has no work order")
        conn.execute(
            update(T.work_orders)
            .where(wo.id == before.work_order_id)
            .values(status="reported", result=action.result.strip(), reported_us=now_us)
        )
        data["work_order_id"] = before.work_order_id
        return after
    if isinstance(action, Confirm | Dismiss) and before.work_order_id is not None:
        _close_work_order(conn, before.work_order_id)
        data["work_order_id"] = before.work_order_id
    if isinstance(action, Confirm):
        # the case opens as every case does (its row here, its case.open entry after the alarm's)
        case_id = insert_case(
            conn,
            station_id=station_id,
            source=f"alarm:{before.alarm_id}",
            summary=action.summary.strip(),
            actor=actor,
            now_us=now_us,
        )
        data["case_id"] = case_id
        return msgspec.structs.replace(after, case_id=case_id)
    return after


def _close_work_order(conn: Connection, work_order_id: int) -> None:
    wo = T.work_orders.c
    conn.execute(update(T.work_orders).where(wo.id == work_order_id, wo.status != "closed").values(status="closed"))


def _save(conn: Connection, before: AlarmState, after: AlarmState, *, exists: bool) -> None:
    """Write the new state, only over the state that was read (else ConcurrentChange)."""
    s = T.alarm_states.c
    values = {
        "status": after.status,
        "work_order_id": after.work_order_id,
        "case_id": after.case_id,
        "closed_reason": after.closed_reason,
        "updated_us": after.updated_us,
        "updated_by": after.updated_by,
    }
    if not exists:
        try:
            conn.execute(
                T.alarm_states.insert().values(alarm_id=after.alarm_id, incident_id=after.incident_id, **values)
            )
        except IntegrityError as e:  # a concurrent first write of the same alarm: its primary key
            raise ConcurrentChange(f"alarm {before.alarm_id} changed while {after.updated_by} was acting on it") from e
        return
    res = conn.execute(
        update(T.alarm_states)
        .where(
            s.alarm_id == before.alarm_id,
            s.status == before.status,
            s.updated_us == before.updated_us,
            s.work_order_id.is_(None) if before.work_order_id is None else s.work_order_id == before.work_order_id,
        )
        .values(**values)
    )
    if res.rowcount != 1:
        raise ConcurrentChange(f"alarm {before.alarm_id} changed while {after.updated_by} was acting on it")


# ---------------------------------------------------------------------------- incidents
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


def _needs_incident(state: Any | None) -> bool:
    return state is None or (state.incident_id is None and state.status not in TERMINAL)


def _group_key(station_id: str, nozzle_id: str | None) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock`` from (station, nozzle)."""
    text = f"anxin.incident\x1f{station_id}\x1f{nozzle_id or ''}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)
