"""The life of one alarm in triage (报警处置): a pure transition function — no I/O, no
clock read (the caller passes ``now_us``) — that the service applies in a transaction.

======================  ==============================  ==============
from                    action                          to
======================  ==============================  ==============
new                     acknowledge                     acknowledged
new                     dismiss (reason)                false_alarm
acknowledged            dispatch (inspector, due)       dispatched
acknowledged            dismiss (reason)                false_alarm
dispatched              report (result)                 on_site
on_site                 confirm (summary)               confirmed
on_site                 dismiss (reason)                false_alarm
on_site                 dispatch (inspector, due)       dispatched
confirmed, false_alarm  —                               (terminal)
======================  ==============================  ==============

Choices:

* A false alarm always needs a non-blank reason (a known test fill, a calibration run,
  a sensor fault found on site); it is kept as ``closed_reason``. It can be closed so
  straight from ``new`` or ``acknowledged`` without sending anyone, or after the visit.
* Re-dispatch: from ``on_site`` only, when the on-site result was inconclusive — the
  person triaging decides that (the result is free text); the previous work order is
  closed and a new one opened. A ``dispatched`` alarm can only be reported on: nobody
  closes an alarm while an inspector is on the way without a result.
* There is no self-loop: every allowed action changes the status (the service's
  optimistic check relies on it together with ``updated_us``).
* Every action's text field must be non-blank, and a dispatch's due time must lie after
  ``now_us``. ``confirm`` opens a case; its summary becomes the case's.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Status = Literal["new", "acknowledged", "dispatched", "on_site", "confirmed", "false_alarm"]
STATUSES: tuple[Status, ...] = ("new", "acknowledged", "dispatched", "on_site", "confirmed", "false_alarm")
TERMINAL: frozenset[str] = frozenset({"confirmed", "false_alarm"})


class TransitionError(ValueError):
    """The action is not allowed in the alarm's status (a one-line reason). ``action``,
    ``status`` and ``problem`` say it for the pages to word: ``not_allowed``, ``closed``,
    or the blank or wrong field (``no_reason``, ``no_inspector``, ``due_past``,
    ``no_result``, ``no_summary``)."""

    def __init__(self, message: str, *, action: str = "", status: str = "", problem: str = "not_allowed") -> None:
        super().__init__(message)
        self.action, self.status, self.problem = action, status, problem


class AlarmState(msgspec.Struct, kw_only=True, frozen=True):
    """The triage state of one alarm (a row of ``alarm_states``; none means ``new``)."""

    alarm_id: str
    status: Status = "new"
    updated_us: int = 0
    updated_by: str = ""
    incident_id: int | None = None
    work_order_id: int | None = None
    case_id: int | None = None
    closed_reason: str | None = None


class Acknowledge(msgspec.Struct, kw_only=True, frozen=True, tag="acknowledge"):
    """Someone has seen the alarm and takes it on."""


class Dispatch(msgspec.Struct, kw_only=True, frozen=True, tag="dispatch"):
    """Send an inspector (a work order, 工单) due by ``due_us``."""

    inspector: str
    due_us: int


class Report(msgspec.Struct, kw_only=True, frozen=True, tag="report"):
    """The inspector's on-site result."""

    result: str


class Confirm(msgspec.Struct, kw_only=True, frozen=True, tag="confirm"):
    """The alarm is a real violation: a case (案件) is opened with this summary."""

    summary: str


class Dismiss(msgspec.Struct, kw_only=True, frozen=True, tag="dismiss"):
    """A false alarm (误报), with the reason."""

    reason: str


# Decode a request body with ``msgspec.json.decode(body, type=Action)`` ({"type": "dispatch", …}).
Action = Acknowledge | Dispatch | Report | Confirm | Dismiss

GRAPH: dict[str, dict[str, Status]] = {
    "new": {"acknowledge": "acknowledged", "dismiss": "false_alarm"},
    "acknowledged": {"dispatch": "dispatched", "dismiss": "false_alarm"},
    "dispatched": {"report": "on_site"},
    "on_site": {"confirm": "confirmed", "dismiss": "false_alarm", "dispatch": "dispatched"},
    "confirmed": {},
    "false_alarm": {},
}


def action_name(action: Action) -> str:
    """``acknowledge`` | ``dispatch`` | ``report`` | ``confirm`` | ``dismiss``."""
    tag = type(action).__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"not a triage action: {action!r}")
    return tag


def action_fields(action: Action) -> dict[str, object]:
    """The action's fields as plain data (for the audit entry)."""
    return {f: getattr(action, f) for f in action.__struct_fields__}


def allowed_actions(state: AlarmState) -> list[str]:
    """The actions the console may offer for this state (none once terminal)."""
    return list(GRAPH.get(state.status, {}))


def transition(state: AlarmState, action: Action, *, now_us: int) -> AlarmState:
    """The state after ``action``, or TransitionError naming the status and the action.

    Only ``status``, ``updated_us`` and ``closed_reason`` change here; the service fills
    in the work order and case ids and who did it.
    """
    name = action_name(action)
    target = GRAPH.get(state.status, {}).get(name)
    if target is None:
        closed = state.status in TERMINAL
        why = "it is closed" if closed else "allowed: " + (", ".join(GRAPH.get(state.status, {})) or "nothing")
        raise TransitionError(
            f"cannot {name} an alarm that is {state.status} ({why})",
            action=name,
            status=state.status,
            problem="closed" if closed else "not_allowed",
        )

    def bad(what: str, problem: str) -> TransitionError:
        return TransitionError(
            f"cannot {name} an alarm that is {state.status}: {what}", action=name, status=state.status, problem=problem
        )

    closed_reason = state.closed_reason
    if isinstance(action, Dismiss):
        if not action.reason.strip():
            raise bad("a false alarm needs a reason", "no_reason")
        closed_reason = action.reason.strip()
    elif isinstance(action, Dispatch):
        if not action.inspector.strip():
            raise bad("the work order needs an inspector", "no_inspector")
        if action.due_us <= now_us:
            raise bad("the due time must be in the future", "due_past")
    elif isinstance(action, Report):
        if not action.result.strip():
            raise bad("the on-site result is empty", "no_result")
    elif isinstance(action, Confirm):
        if not action.summary.strip():
            raise bad("the case needs a summary", "no_summary")
    return msgspec.structs.replace(state, status=target, updated_us=now_us, closed_reason=closed_reason)


__all__ = [
    "Status",
    "STATUSES",
    "TERMINAL",
    "TransitionError",
    "AlarmState",
    "Action",
    "Acknowledge",
    "Dispatch",
    "Report",
    "Confirm",
    "Dismiss",
    "GRAPH",
    "action_name",
    "action_fields",
    "allowed_actions",
    "transition",
]
