"""Applying a triage action to the store: one transaction reads the alarm's state,
runs the pure ``transition``, writes the state, the work order and the case it implies,
closes the alarm's incident when it was its last open alarm, and appends one audit
entry — all or nothing.

Concurrency: two applies on one alarm never both succeed from the same prior state.
On PostgreSQL the alarm's row is locked (``FOR UPDATE``) before its state is read; on
SQLite the transaction takes the write lock first (``BEGIN IMMEDIATE``). The write of
the state is also conditional on the state read (status, ``updated_us``, work order):
if it matched nothing, ConcurrentChange is raised and the transaction rolls back.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision.cases import audit_opened, insert_case
from anxin.workflow._db import ConcurrentChange, UnknownAlarm, audit, read_state_row, state_of
from anxin.workflow.incidents import close_if_done
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
