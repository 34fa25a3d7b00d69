"""What the workflow's writers share: the write transaction, reading a state, the audit
adapter, and the errors."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from anxin.audit import append
from anxin.store import schema as T
from anxin.workflow.lifecycle import AlarmState

SYSTEM = "system"


class UnknownAlarm(LookupError):
    """No alarm with that id."""


class ConcurrentChange(RuntimeError):
    """The alarm's state changed between reading it and writing it (someone else won)."""


def state_of(alarm_id: str, row: Any | None) -> AlarmState:
    """The state from an ``alarm_states`` row (none: ``new``)."""
    if row is None:
        return AlarmState(alarm_id=alarm_id)
    return AlarmState(
        alarm_id=alarm_id,
        status=row.status,
        updated_us=int(row.updated_us),
        updated_by=row.updated_by,
        incident_id=row.incident_id,
        work_order_id=row.work_order_id,
        case_id=row.case_id,
        closed_reason=row.closed_reason,
    )


def read_state_row(conn: Connection, alarm_id: str) -> Any | None:
    return conn.execute(select(T.alarm_states).where(T.alarm_states.c.alarm_id == alarm_id)).first()


def audit(
    conn: Connection, *, actor: str, action: str, subject: str, reason: str, data: dict[str, Any], now_us: int
) -> int:
    """One hash-chained audit entry in the caller's transaction."""
    return append(conn, actor=actor, action=action, subject=subject, reason=reason, data=data, now_us=now_us)
