"""The draw written (双随机): the plan with its record, one planned routine inspection
per pick and one audit entry, in one transaction. The draw itself is computed by
:mod:`anxin.supervision.risk`."""

from __future__ import annotations

from anxin.audit import append as audit_append
from anxin.contract.registry import Registry
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id
from anxin.store.transactions import write_transaction
from anxin.supervision.risk import SCHEDULE_AHEAD_US, _draw_inspectors, _draw_record
from anxin.supervision.risk.queries import last_inspectors, risk_scores


def draw(
    store: Store,
    registry: Registry,
    *,
    stations: int,
    inspectors: list[str],
    seed: int,
    method: str,
    name: str,
    actor: str,
    now_us: int,
) -> int:
    """Draw ``stations`` stations and assign inspectors (双随机); writes the plan (with
    everything needed to reproduce it), one planned routine inspection per pick and
    one audit entry; returns the plan id."""
    inspectors = _draw_inspectors(
        stations=stations, inspectors=inspectors, seed=seed, method=method, name=name, actor=actor
    )
    scores = sorted(risk_scores(store, registry, now_us=now_us), key=lambda r: r.station_id)
    last = last_inspectors(store)
    record = _draw_record(
        scores, last, stations=stations, inspectors=inspectors, seed=seed, method=method, now_us=now_us
    )
    picks = record["picks"]
    scheduled = now_us + SCHEDULE_AHEAD_US
    with write_transaction(store) as conn:
        plan_id = inserted_id(
            conn.execute(
                T.inspection_plans.insert().values(
                    name=name.strip(),
                    method=method,
                    seed=seed,
                    created_by=actor.strip(),
                    created_us=now_us,
                    draw=record,
                )
            )
        )
        ids = []
        for p in picks:
            ids.append(
                inserted_id(
                    conn.execute(
                        T.inspections.insert().values(
                            plan_id=plan_id,
                            kind="routine",
                            station_id=p["station_id"],
                            inspector=p["inspector"],
                            scheduled_us=scheduled,
                            status="planned",
                            checklist={},
                            created_us=now_us,
                        )
                    )
                )
            )
        audit_append(
            conn,
            actor=actor.strip(),
            action="inspection.draw",
            subject=f"inspection_plan:{plan_id}",
            reason=name.strip(),
            data={"seed": seed, "method": method, "stations": stations, "picks": picks, "inspection_ids": ids},
            now_us=now_us,
        )
    return plan_id
