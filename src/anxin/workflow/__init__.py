"""Alarm triage to closure (报警处置): the lifecycle of an alarm (pure), applying actions
to the store with work orders, cases and audit entries, incidents grouping repeated
alarms, and the console's queries. No web code here.

SQL only in :mod:`~anxin.workflow.queries` (reads) and :mod:`~anxin.workflow.service`
(every write: triage actions and incidents); :mod:`~anxin.workflow.lifecycle`,
:mod:`~anxin.workflow.incidents` (how alarms group) and ``_db`` (errors, states) need no
database."""

from anxin.workflow._db import ConcurrentChange, UnknownAlarm
from anxin.workflow.incidents import attach_incidents, backfill_incidents, incident_listener
from anxin.workflow.lifecycle import (
    STATUSES,
    TERMINAL,
    Acknowledge,
    Action,
    AlarmState,
    Confirm,
    Dismiss,
    Dispatch,
    Report,
    TransitionError,
    allowed_actions,
    transition,
)
from anxin.workflow.queries import (
    Incident,
    WorkOrder,
    alarm_state,
    counts_by_status,
    incidents,
    overdue_work_orders,
    work_orders,
)
from anxin.workflow.service import apply

__all__ = [
    "STATUSES",
    "TERMINAL",
    "Acknowledge",
    "Action",
    "AlarmState",
    "Confirm",
    "Dismiss",
    "Dispatch",
    "Report",
    "TransitionError",
    "allowed_actions",
    "transition",
    "apply",
    "ConcurrentChange",
    "UnknownAlarm",
    "attach_incidents",
    "backfill_incidents",
    "incident_listener",
    "Incident",
    "WorkOrder",
    "alarm_state",
    "counts_by_status",
    "incidents",
    "overdue_work_orders",
    "work_orders",
]
