"""What the demo reads from its store (SQL in one place, as every package keeps it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from anxin.store import schema as T
from anxin.store.database import Store

_A = T.alarms.c


def flagged_sales(store: Store, rules: tuple[str, ...], *, limit: int) -> list[Any]:
    """The first sales the engine flagged under ``rules``: (alarm_id, station_id,
    nozzle_id, order_id, ts_us, rule), in the order raised."""
    with store.engine.connect() as c:
        return list(
            c.execute(
                select(_A.alarm_id, _A.station_id, _A.nozzle_id, _A.order_id, _A.ts_us, _A.rule)
                .where(_A.rule.in_(rules))
                .order_by(_A.ord)
                .limit(limit)
            ).all()
        )


def first_inspection_of_plan(store: Store, plan_id: int) -> tuple[int, str] | None:
    """(id, station_id) of a draw's first inspection, or None."""
    i = T.inspections.c
    with store.engine.connect() as c:
        row = c.execute(select(i.id, i.station_id).where(i.plan_id == plan_id).order_by(i.id)).first()
    return None if row is None else (int(row[0]), str(row[1]))


def alarm_ids_and_counts(store: Store, *, not_rules: Iterable[str]) -> tuple[set[str], dict[str, int]]:
    """The ids of the stored alarms whose rule is not in ``not_rules``, and every rule's count."""
    with store.engine.connect() as c:
        ids = set(c.execute(select(_A.alarm_id).where(_A.rule.not_in(list(not_rules)))).scalars())
        counts: dict[str, int] = {r: int(n) for r, n in c.execute(select(_A.rule, func.count()).group_by(_A.rule))}
    return ids, counts
