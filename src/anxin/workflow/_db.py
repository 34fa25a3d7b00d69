"""What the workflow's modules share: the errors, the system actor, and an alarm's state
from its row (reading the row is :func:`anxin.workflow.queries.read_state_row`'s, the
audit adapter :func:`anxin.workflow.service.audit`)."""

from __future__ import annotations

from typing import Any

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
