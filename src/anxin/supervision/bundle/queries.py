"""What a case's evidence bundle holds, read in one connection: the case's window, the
ledger records and alarms in it, the registry then, and the audit entries of the case
and its source. The bundle is made by :mod:`anxin.supervision.bundle`."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision.bundle import HOUR_US, _evidence_keys, _local_day


class BundleRows(NamedTuple):
    source: str  # the case's source
    start: int  # the window, µs
    end: int
    nozzle: str | None  # an alarm's nozzle, else None
    evidence_keys: set[str]  # natural keys the alarm's evidence names
    source_alarms: list[str]  # the alarm the case comes from, if any
    ledger: list[Any]  # the ledger rows of the window and the evidence (the nozzle's filter is the bundle's)
    alarms: list[Any]  # the alarms of the window, with ``triage_status``
    registry: Any | None  # the registry version then (else the latest); None when there is none
    audit: list[Any]  # the audit entries of the case and its source (empty without a registry)


def _window(conn: Any, case_row: Any) -> tuple[int, int, str | None, set[str], list[str]]:
    """(start, end, nozzle or None, evidence natural keys, source alarm ids) of the case."""
    kind, _, ref = case_row.source.partition(":")
    if kind == "alarm":
        a = conn.execute(select(T.alarms).where(T.alarms.c.alarm_id == ref)).first()
        if a is not None:
            t = int(a.ts_us)
            return t - HOUR_US, t + HOUR_US, a.nozzle_id, _evidence_keys(a.evidence, a.nozzle_id), [ref]
        t = int(case_row.opened_us)
    elif kind == "complaint" and ref.isdigit():
        c = conn.execute(select(T.complaints).where(T.complaints.c.id == int(ref))).first()
        t = int(c.event_ts_us or c.received_us) if c is not None else int(case_row.opened_us)
    elif kind == "inspection" and ref.isdigit():
        i = conn.execute(select(T.inspections).where(T.inspections.c.id == int(ref))).first()
        t = int(i.visited_us or i.scheduled_us) if i is not None else int(case_row.opened_us)
    else:
        t = int(case_row.opened_us)
    start, end = _local_day(t)
    return start, end, None, set(), []


def bundle_rows(store: Store, case_id: int, *, station_id: str, now_us: int) -> BundleRows:
    """The rows of case ``case_id``'s bundle (the case is at ``station_id``)."""
    L, A, S = T.ledger.c, T.alarms.c, T.alarm_states.c
    with store.engine.connect() as conn:
        row = conn.execute(select(T.cases).where(T.cases.c.id == case_id)).one()
        start, end, nozzle, ev_keys, source_alarms = _window(conn, row)
        alarm_source = row.source.startswith("alarm:")
        # The records: the window (the nozzle's metering/event/settlement for an alarm;
        # the station's whole day otherwise) plus every record the alarm's evidence names.
        # (the platform's own ticks are in the ledger too, but they are not what the station sent)
        in_window = and_(L.station_id == station_id, L.event_time_us >= start, L.event_time_us <= end, L.kind != "tick")
        if alarm_source:
            in_window = and_(in_window, L.kind.in_(("metering", "event", "settlement")))
        cond = (
            or_(in_window, and_(L.station_id == station_id, L.natural_key.in_(sorted(ev_keys))))
            if ev_keys
            else in_window
        )
        ledger_rows = conn.execute(
            select(L.id, L.kind, L.natural_key, L.event_time_us, L.received_us, L.verdict, L.quarantined, L.body)
            .where(cond)
            .order_by(L.id)
        ).all()
        alarm_cond = and_(A.station_id == station_id, A.ts_us >= start, A.ts_us <= end)
        if nozzle is not None:
            alarm_cond = and_(alarm_cond, or_(A.nozzle_id == nozzle, A.nozzle_id.is_(None)))
        if source_alarms:
            alarm_cond = or_(alarm_cond, A.alarm_id.in_(source_alarms))
        alarm_rows = conn.execute(
            select(T.alarms, S.status.label("triage_status"))
            .select_from(T.alarms.outerjoin(T.alarm_states, S.alarm_id == A.alarm_id))
            .where(alarm_cond)
            .order_by(A.ord)
        ).all()
        rv = T.registry_versions.c
        reg = (
            conn.execute(
                select(rv.version, rv.created_us, rv.document)
                .where(rv.created_us <= now_us)
                .order_by(rv.version.desc())
                .limit(1)
            ).first()
            or conn.execute(select(rv.version, rv.created_us, rv.document).order_by(rv.version.desc()).limit(1)).first()
        )
        audit_rows: list[Any] = []
        if reg is not None:  # (without a registry there is no bundle: the rest is not read)
            au = T.audit_log.c
            audit_rows = list(
                conn.execute(
                    select(T.audit_log).where(au.subject.in_((f"case:{case_id}", row.source))).order_by(au.seq)
                ).all()
            )
    return BundleRows(
        source=row.source,
        start=start,
        end=end,
        nozzle=nozzle,
        evidence_keys=ev_keys,
        source_alarms=source_alarms,
        ledger=list(ledger_rows),
        alarms=list(alarm_rows),
        registry=reg,
        audit=audit_rows,
    )
