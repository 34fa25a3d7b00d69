"""What the reports read: the counts of a period (:mod:`anxin.reports.figures` does the
arithmetic), the outage alarms of the online rate (:mod:`anxin.reports.online`), the gaps
of the oversight reconciliation (:mod:`anxin.reports.oversight` words them), and the
stored reports (:mod:`anxin.reports.daily`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import and_, func, or_, select, true

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import int_sum


# --------------------------------------------------------------------------- figures
class PeriodCounts(NamedTuple):
    """The raw counts of a period, as :func:`period_counts` reads them."""

    inspections_by_kind: dict[str, int]
    rectifications_issued: int
    rectifications_closed: int
    rectifications_overdue: int
    complaints_received: int
    complaints_closed: int
    complaints_closed_on_time: int
    cases_opened: int
    cases_closed: int
    penalties_fen: int
    boards_confiscated: int
    alarms: list[Any]  # (rule, severity, triage status or None) of each alarm raised
    sales: int
    volume_ml: int
    amount_fen: int


def period_counts(
    store: Store, *, lo: int, until: int, start: str, end: str, stations: Sequence[str] | None
) -> PeriodCounts:
    """What happened in [``lo``, ``until``] (µs, both inclusive; sales by local day
    ``start``..``end``) at ``stations`` (None: every row); the definitions are
    :mod:`anxin.reports.figures`'."""

    def where(col):  # the district's stations
        return true() if stations is None else col.in_(stations)

    def within(col):
        return and_(col >= lo, col <= until)

    ins, rect, com, cas, al, st, ds = (
        T.inspections.c,
        T.rectifications.c,
        T.complaints.c,
        T.cases.c,
        T.alarms.c,
        T.alarm_states.c,
        T.daily_sales.c,
    )
    with store.engine.connect() as c:
        by_kind: dict[str, int] = dict(
            c.execute(
                select(ins.kind, func.count())
                .where(ins.status == "done", within(ins.visited_us), where(ins.station_id))
                .group_by(ins.kind)
            ).all()
        )
        issued_at = func.coalesce(ins.visited_us, ins.scheduled_us)
        r_issued = c.execute(
            select(func.count())
            .select_from(T.rectifications.join(T.inspections, rect.inspection_id == ins.id))
            .where(within(issued_at), where(rect.station_id))
        ).scalar_one()
        r_closed = c.execute(
            select(func.count()).where(rect.status == "closed", within(rect.closed_us), where(rect.station_id))
        ).scalar_one()
        r_overdue = c.execute(
            select(func.count()).where(
                within(rect.deadline_us),
                where(rect.station_id),
                (rect.closed_us.is_(None)) | (rect.closed_us > rect.deadline_us),
            )
        ).scalar_one()
        c_received = c.execute(select(func.count()).where(within(com.received_us), where(com.station_id))).scalar_one()
        closed_q = (com.status == "closed", within(com.closed_us), where(com.station_id))
        c_closed = c.execute(select(func.count()).where(*closed_q)).scalar_one()
        c_on_time = c.execute(
            select(func.count()).where(*closed_q, (com.deadline_us.is_(None)) | (com.closed_us <= com.deadline_us))
        ).scalar_one()
        k_opened = c.execute(select(func.count()).where(within(cas.opened_us), where(cas.station_id))).scalar_one()
        k_closed, penalties, boards = c.execute(
            select(
                func.count(),
                func.coalesce(func.sum(cas.penalty_fen), 0),
                func.coalesce(func.sum(cas.boards_confiscated), 0),
            ).where(cas.status == "closed", within(cas.closed_us), where(cas.station_id))
        ).one()
        alarm_rows = c.execute(
            select(al.rule, al.severity, st.status)
            .select_from(T.alarms.outerjoin(T.alarm_states, st.alarm_id == al.alarm_id))
            .where(within(al.ts_us), where(al.station_id))
        ).all()
        sales, volume, amount = c.execute(
            select(
                int_sum(ds.sales),
                int_sum(ds.volume_ml),
                int_sum(ds.amount_fen),
            ).where(ds.day >= start, ds.day <= end, where(ds.station_id))
        ).one()
    return PeriodCounts(
        inspections_by_kind=by_kind,
        rectifications_issued=int(r_issued),
        rectifications_closed=int(r_closed),
        rectifications_overdue=int(r_overdue),
        complaints_received=int(c_received),
        complaints_closed=int(c_closed),
        complaints_closed_on_time=int(c_on_time),
        cases_opened=int(k_opened),
        cases_closed=int(k_closed),
        penalties_fen=int(penalties),
        boards_confiscated=int(boards),
        alarms=list(alarm_rows),
        sales=int(sales),
        volume_ml=int(volume),
        amount_fen=int(amount),
    )


# --------------------------------------------------------------------------- online rate
def outage_inputs(store: Store, ids: list[str], *, before_us: int) -> tuple[dict[str, int], list[Any]]:
    """(station → first record received, µs; the ``DATA_OUTAGE`` alarms of these stations
    with an event time before ``before_us``: station, tank, nozzle, evidence)."""
    w, a = T.station_watch.c, T.alarms.c
    with store.engine.connect() as c:
        since = dict(c.execute(select(w.station_id, w.since_us).where(w.station_id.in_(ids))).all()) if ids else {}
        rows = (
            c.execute(
                select(a.station_id, a.tank_id, a.nozzle_id, a.evidence).where(
                    and_(a.rule == "DATA_OUTAGE", a.ts_us < before_us, a.station_id.in_(ids))
                )
            ).all()
            if ids
            else []
        )
    return since, list(rows)


# --------------------------------------------------------------------------- oversight
class OversightRows(NamedTuple):
    """The rows behind each category of the reconciliation, in its order."""

    complaints_uninvestigated: list[Any]  # id, station, received, status, text
    alarms_undisposed: list[Any]  # alarm id, station, rule, raised, status
    cases_open: list[Any]  # id, station, opened, summary
    recent_alarms: list[Any]  # station, event time (in the window)
    recent_complaints: list[Any]  # station, received (in the window)
    inspected: set[str]  # stations with an inspection done in the window
    work_orders_overdue: list[Any]  # id, station, due, inspector, alarm id
    complaints_overdue: list[Any]  # id, station, deadline, status, text
    rectifications_overdue: list[Any]  # id, station, deadline, inspection id, finding


def oversight_rows(
    store: Store,
    *,
    now_us: int,
    station_ids: list[str] | None,
    complaint_before_us: int,
    alarm_before_us: int,
    window_from_us: int,
) -> OversightRows:
    """The rows of every gap as of ``now_us`` (one connection), of ``station_ids`` (None:
    all): complaints received before ``complaint_before_us`` and not investigated, alarms
    raised before ``alarm_before_us`` without a disposition, open cases, the alarms,
    complaints and inspections done since ``window_from_us``, overdue work orders,
    complaints and rectifications. The rules are :mod:`anxin.reports.oversight`'s."""

    def where(col):
        return true() if station_ids is None else col.in_(station_ids)

    com, al, st, cas, ins, wo, rect = (
        T.complaints.c,
        T.alarms.c,
        T.alarm_states.c,
        T.cases.c,
        T.inspections.c,
        T.work_orders.c,
        T.rectifications.c,
    )
    with store.engine.connect() as c:
        uninvestigated = c.execute(
            select(com.id, com.station_id, com.received_us, com.status, com.text)
            .where(
                com.status.in_(("received", "assigned")),
                com.received_us < complaint_before_us,
                where(com.station_id),
            )
            .order_by(com.received_us, com.id)
        ).all()
        undisposed = c.execute(
            select(al.alarm_id, al.station_id, al.rule, al.raised_us, st.status)
            .select_from(T.alarms.outerjoin(T.alarm_states, st.alarm_id == al.alarm_id))
            .where(
                or_(st.status.is_(None), st.status.in_(("new", "acknowledged"))),
                al.raised_us < alarm_before_us,
                where(al.station_id),
            )
            .order_by(al.raised_us, al.ord)
        ).all()
        cases_open = c.execute(
            select(cas.id, cas.station_id, cas.opened_us, cas.summary)
            .where(cas.status != "closed", cas.opened_us <= now_us, where(cas.station_id))
            .order_by(cas.opened_us, cas.id)
        ).all()
        recent_alarms = c.execute(
            select(al.station_id, al.ts_us).where(al.ts_us >= window_from_us, al.ts_us <= now_us, where(al.station_id))
        ).all()
        recent_complaints = c.execute(
            select(com.station_id, com.received_us).where(
                com.received_us >= window_from_us, com.received_us <= now_us, where(com.station_id)
            )
        ).all()
        inspected = set(
            c.execute(
                select(ins.station_id).where(
                    ins.status == "done",
                    ins.visited_us >= window_from_us,
                    ins.visited_us <= now_us,
                    where(ins.station_id),
                )
            ).scalars()
        )
        work_orders = c.execute(
            select(wo.id, wo.station_id, wo.due_us, wo.inspector, wo.alarm_id)
            .where(wo.status == "open", wo.due_us < now_us, where(wo.station_id))
            .order_by(wo.due_us, wo.id)
        ).all()
        complaints_overdue = c.execute(
            select(com.id, com.station_id, com.deadline_us, com.status, com.text)
            .where(
                com.status != "closed", com.deadline_us.is_not(None), com.deadline_us < now_us, where(com.station_id)
            )
            .order_by(com.deadline_us, com.id)
        ).all()
        rectifications = c.execute(
            select(rect.id, rect.station_id, rect.deadline_us, rect.inspection_id, rect.finding)
            .where(and_(rect.status == "open", rect.deadline_us < now_us), where(rect.station_id))
            .order_by(rect.deadline_us, rect.id)
        ).all()
    return OversightRows(
        complaints_uninvestigated=list(uninvestigated),
        alarms_undisposed=list(undisposed),
        cases_open=list(cases_open),
        recent_alarms=list(recent_alarms),
        recent_complaints=list(recent_complaints),
        inspected=inspected,
        work_orders_overdue=list(work_orders),
        complaints_overdue=list(complaints_overdue),
        rectifications_overdue=list(rectifications),
    )


# --------------------------------------------------------------------------- stored reports
def report_ids(store: Store, *, kind: str, start: str, end: str, districts: list[str]) -> dict[str, int]:
    """district → id of the stored reports of (``kind``, ``start``, ``end``) among ``districts``."""
    r = T.reports.c
    with store.engine.connect() as c:
        return dict(
            c.execute(
                select(r.district, r.id).where(
                    r.kind == kind, r.period_start == start, r.period_end == end, r.district.in_(districts)
                )
            ).all()
        )


def report_figures(store: Store, *, kind: str, start: str, end: str, district: str) -> dict | None:
    """The stored figures of one report (None if not made)."""
    r = T.reports.c
    with store.engine.connect() as c:
        got = c.execute(
            select(r.figures).where(
                r.kind == kind, r.period_start == start, r.period_end == end, r.district == district
            )
        ).scalar_one_or_none()
    if isinstance(got, str | bytes):
        got = msgspec.json.decode(got)
    return got


def last_report_start(store: Store, *, kind: str, district: str) -> str | None:
    """The latest ``period_start`` of the stored reports of ``kind`` for ``district``."""
    r = T.reports.c
    with store.engine.connect() as c:
        return c.execute(
            select(func.max(r.period_start)).where(r.kind == kind, r.district == district)
        ).scalar_one_or_none()
