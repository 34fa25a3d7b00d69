"""What the risk score reads — each station's alarms, meter-error estimates,
complaints, rectifications and inspections — and the draw's last inspector of each
station. The rules are :mod:`anxin.supervision.risk`'."""

from __future__ import annotations

from sqlalchemy import func, select

from anxin.contract.registry import Registry
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision.risk import OPEN_ALARM_STATUSES, WINDOW_US, StationRisk, _score


def risk_scores(store: Store, registry: Registry, *, now_us: int) -> list[StationRisk]:
    """Every registered station's risk, highest first (ties by station id)."""
    stations = sorted(s.station_id for s in registry.stations)
    since = now_us - WINDOW_US
    A, S = T.alarms.c, T.alarm_states.c
    with store.engine.connect() as c:
        alarm_rows = c.execute(
            select(A.station_id, A.rule, A.severity, A.ts_us, S.status)
            .select_from(T.alarms.outerjoin(T.alarm_states, S.alarm_id == A.alarm_id))
            .where(A.station_id.in_(stations))
            .where((A.ts_us >= since) | S.status.is_(None) | S.status.in_(OPEN_ALARM_STATUSES))
        ).all()
        M = T.meter_estimates.c
        latest = (
            select(M.nozzle_id, func.max(M.ts).label("ts"))
            .where(M.station_id.in_(stations))
            .group_by(M.nozzle_id)
            .subquery()
        )
        meter_rows = c.execute(
            select(M.station_id, M.nozzle_id, M.error_permille).join(
                latest, (latest.c.nozzle_id == M.nozzle_id) & (latest.c.ts == M.ts)
            )
        ).all()
        Cp = T.complaints.c
        complaint_rows = c.execute(
            select(Cp.station_id, Cp.outcome, Cp.status, Cp.plausible).where(
                Cp.station_id.in_(stations), Cp.received_us >= since
            )
        ).all()
        R = T.rectifications.c
        open_rect: dict[str, int] = dict(
            c.execute(
                select(R.station_id, func.count())
                .where(R.status == "open", R.station_id.in_(stations))
                .group_by(R.station_id)
            ).all()
        )
        rect_inspections = {int(x) for (x,) in c.execute(select(R.inspection_id)).all()}
        I = T.inspections.c  # noqa: E741
        done = c.execute(
            select(I.id, I.station_id, I.visited_us, I.scheduled_us, I.checklist).where(
                I.status == "done", I.station_id.in_(stations)
            )
        ).all()
    return _score(
        stations,
        now_us=now_us,
        alarm_rows=list(alarm_rows),
        meter_rows=list(meter_rows),
        complaint_rows=list(complaint_rows),
        open_rect=open_rect,
        rect_inspections=rect_inspections,
        done=list(done),
    )


def last_inspectors(store: Store) -> dict[str, str]:
    """Each station's inspector of its latest inspection scheduled (cancelled ones aside)."""
    I = T.inspections.c  # noqa: E741
    with store.engine.connect() as c:
        rows = c.execute(
            select(I.station_id, I.inspector, I.scheduled_us, I.id)
            .where(I.status != "cancelled")
            .order_by(I.scheduled_us, I.id)
        ).all()
    return {r.station_id: r.inspector for r in rows}
