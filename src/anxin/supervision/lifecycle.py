"""The lives of a complaint (投诉), an inspection (检查), a case (案件), a citizen's
inspection request (你点我检) and a rectification order (整改): pure transition graphs — no I/O, no clock read — as :mod:`anxin.workflow.lifecycle` is for an alarm.
The services (complaints.py, inspections.py, cases.py) lock the row, ask the graph for
the next status and write it in the same transaction; a refused step is a
:class:`TransitionError`, which each service turns into the refusal its callers know
(SupervisionError ``forbidden_step``, a CaseError for a case — worded in Chinese and
English by :mod:`anxin.supervision.errors`).
The actions are named as their audit entries are (``complaint.assign``, ``case.close``…).
Creation is an insert, not an action: a complaint starts ``received``, an inspection
``planned``, a case ``open`` (立案).

Complaint (投诉):

=============  ===========  =============
from           action       to
=============  ===========  =============
received       assign       assigned
assigned       assign       assigned
assigned       investigate  investigating
investigating  assign       investigating
investigating  investigate  investigating
investigating  reply        replied
replied        reply        replied
replied        close        closed
closed         —            (terminal)
=============  ===========  =============

* The self-loops are steps like any other (audited, before = after): re-assigning keeps
  the status — a new handler does not restart an investigation under way —, a further
  investigation note while investigating, a further reply while replied (it replaces the
  one shown; all are in the audit log).
* A reply to the complainant comes before closure (办结): ``close`` only from
  ``replied``. Whether the outcome and the reason are acceptable is the service's check.
* Triage (研判: plausible or not) is apart from the status and allowed at every step,
  closed included, so it is no action of this graph.

Inspection (检查):

=========  ======  ==========
from       action  to
=========  ======  ==========
planned    visit   done
done       —       (terminal)
cancelled  —       (terminal)
=========  ======  ==========

* A visit is recorded once: its checklist opened rectifications (整改) and is in the
  audit chain. A second look is a follow-up (复查), a new inspection of a done one.
* ``cancelled`` is a stored status (the random draw skips such inspections when it
  looks for a station's last inspector), but no action leads there: nothing in the
  platform cancels an inspection yet.

Case (案件):

=============  ========  =============
from           action    to
=============  ========  =============
open           update    investigating
open           penalize  decided
investigating  update    investigating
investigating  penalize  decided
decided        close     closed
closed         —         (terminal)
=============  ========  =============

* One way, never back. The parties (当事人) and violations (违法事实) may be updated
  again and again while investigating, never once decided (处罚决定).
* A decision may come straight from ``open``: nothing obliges recording parties first.
* 结案 only from ``decided``; the service also wants the decision text on the row
  (a check of data, not of status).

Citizen-chosen inspection request (你点我检):

=========  ========  =========
from       action    to
=========  ========  =========
requested  schedule  scheduled
scheduled  visit     done
done       —         (terminal)
=========  ========  =========

* ``schedule`` plans the request's inspection (kind citizen, on its nozzle); the
  inspection's visit marks the request ``done`` in the same transaction.

Rectification order (整改):

======  =========  ======
from    action     to
======  =========  ======
open    follow_up  closed
closed  —          (terminal)
======  =========  ======

* A rectification closes only by a follow-up inspection (复查) of its inspection whose
  whole checklist passes; one that fails leaves it open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

ComplaintStatus = Literal["received", "assigned", "investigating", "replied", "closed"]
ComplaintAction = Literal["assign", "investigate", "reply", "close"]
InspectionStatus = Literal["planned", "done", "cancelled"]
InspectionAction = Literal["visit"]
CaseStatus = Literal["open", "investigating", "decided", "closed"]
CaseAction = Literal["update", "penalize", "close"]
RequestStatus = Literal["requested", "scheduled", "done"]
RequestAction = Literal["schedule", "visit"]
RectificationStatus = Literal["open", "closed"]
RectificationAction = Literal["follow_up"]

S = TypeVar("S", bound=str)
A = TypeVar("A", bound=str)


class TransitionError(ValueError):
    """The action is not allowed in the status (a one-line reason naming both).
    ``allowed_from`` lists the statuses that allow the action, in the lifecycle's order."""

    def __init__(self, reason: str, *, status: str, action: str, allowed_from: tuple[str, ...]) -> None:
        super().__init__(reason)
        self.status = status
        self.action = action
        self.allowed_from = allowed_from


@dataclass(frozen=True)
class Lifecycle(Generic[S, A]):
    """One lifecycle: its statuses (in display order), actions, terminal set and edges."""

    subject: str  # "complaint", as the error's reason names it
    statuses: tuple[S, ...]
    actions: tuple[A, ...]
    initial: S
    terminal: frozenset[S]
    edges: Mapping[str, Mapping[str, S]]  # status -> {action -> next status}

    def allowed_actions(self, status: str) -> tuple[A, ...]:
        """The actions allowed in ``status`` (none once terminal), in the lifecycle's order."""
        out = self.edges.get(status, {})
        return tuple(a for a in self.actions if a in out)

    def allowed_from(self, action: str) -> tuple[S, ...]:
        """The statuses in which ``action`` is allowed, in the lifecycle's order."""
        return tuple(s for s in self.statuses if action in self.edges.get(s, {}))

    def next(self, status: str, action: str) -> S:
        """The status after ``action``, or TransitionError naming the status and the action."""
        target = self.edges.get(status, {}).get(action)
        if target is not None:
            return target
        if action not in self.actions:
            why = f"not a {self.subject} action"
        elif status not in self.statuses:
            why = "unknown status"
        elif status in self.terminal:
            why = "it is final"
        else:
            why = "allowed: " + ", ".join(self.allowed_actions(status))
        article = "an" if self.subject[0] in "aeiou" else "a"
        raise TransitionError(
            f"cannot {action} {article} {self.subject} that is {status} ({why})",
            status=status,
            action=action,
            allowed_from=self.allowed_from(action),
        )


COMPLAINT: Lifecycle[ComplaintStatus, ComplaintAction] = Lifecycle(
    subject="complaint",
    statuses=("received", "assigned", "investigating", "replied", "closed"),
    actions=("assign", "investigate", "reply", "close"),
    initial="received",
    terminal=frozenset({"closed"}),
    edges={
        "received": {"assign": "assigned"},
        "assigned": {"assign": "assigned", "investigate": "investigating"},
        "investigating": {"assign": "investigating", "investigate": "investigating", "reply": "replied"},
        "replied": {"reply": "replied", "close": "closed"},
        "closed": {},
    },
)

INSPECTION: Lifecycle[InspectionStatus, InspectionAction] = Lifecycle(
    subject="inspection",
    statuses=("planned", "done", "cancelled"),
    actions=("visit",),
    initial="planned",
    terminal=frozenset({"done", "cancelled"}),
    edges={"planned": {"visit": "done"}, "done": {}, "cancelled": {}},
)

CASE: Lifecycle[CaseStatus, CaseAction] = Lifecycle(
    subject="case",
    statuses=("open", "investigating", "decided", "closed"),
    actions=("update", "penalize", "close"),
    initial="open",
    terminal=frozenset({"closed"}),
    edges={
        "open": {"update": "investigating", "penalize": "decided"},
        "investigating": {"update": "investigating", "penalize": "decided"},
        "decided": {"close": "closed"},
        "closed": {},
    },
)

CITIZEN_REQUEST: Lifecycle[RequestStatus, RequestAction] = Lifecycle(
    subject="request",
    statuses=("requested", "scheduled", "done"),
    actions=("schedule", "visit"),
    initial="requested",
    terminal=frozenset({"done"}),
    edges={"requested": {"schedule": "scheduled"}, "scheduled": {"visit": "done"}, "done": {}},
)

RECTIFICATION: Lifecycle[RectificationStatus, RectificationAction] = Lifecycle(
    subject="rectification",
    statuses=("open", "closed"),
    actions=("follow_up",),
    initial="open",
    terminal=frozenset({"closed"}),
    edges={"open": {"follow_up": "closed"}, "closed": {}},
)

COMPLAINT_STATUSES = COMPLAINT.statuses
INSPECTION_STATUSES = INSPECTION.statuses
CASE_STATUSES = CASE.statuses


def complaint_next(status: str, action: ComplaintAction) -> ComplaintStatus:
    """The complaint's status after ``action`` (see the table above), or TransitionError."""
    return COMPLAINT.next(status, action)


def inspection_next(status: str, action: InspectionAction) -> InspectionStatus:
    """The inspection's status after ``action`` (see the table above), or TransitionError."""
    return INSPECTION.next(status, action)


def case_next(status: str, action: CaseAction) -> CaseStatus:
    """The case's status after ``action`` (see the table above), or TransitionError."""
    return CASE.next(status, action)


__all__ = [
    "CASE",
    "CASE_STATUSES",
    "COMPLAINT",
    "COMPLAINT_STATUSES",
    "INSPECTION",
    "INSPECTION_STATUSES",
    "CaseAction",
    "CaseStatus",
    "ComplaintAction",
    "ComplaintStatus",
    "InspectionAction",
    "InspectionStatus",
    "Lifecycle",
    "TransitionError",
    "case_next",
    "complaint_next",
    "inspection_next",
]
