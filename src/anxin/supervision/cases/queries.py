"""What is read of cases: one case, the case of a source, listings."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision.cases import Case, Party, UnknownCase, Violation

_C = T.cases.c


def _case(row: Any) -> Case:
    return Case(
        id=int(row.id),
        station_id=row.station_id,
        source=row.source,
        status=row.status,
        opened_us=int(row.opened_us),
        opened_by=row.opened_by,
        summary=row.summary,
        parties=msgspec.convert(row.parties or [], list[Party]),
        violations=msgspec.convert(row.violations or [], list[Violation]),
        penalty_fen=row.penalty_fen,
        boards_confiscated=row.boards_confiscated,
        decision=row.decision,
        closed_us=row.closed_us,
    )


def get(store: Store, case_id: int) -> Case:
    with store.engine.connect() as c:
        row = c.execute(select(T.cases).where(_C.id == case_id)).first()
    if row is None:
        raise UnknownCase("case_unknown", case_id=case_id)
    return _case(row)


def by_source(store: Store, source: str) -> Case | None:
    with store.engine.connect() as c:
        row = c.execute(select(T.cases).where(_C.source == source).order_by(_C.id).limit(1)).first()
    return _case(row) if row is not None else None


def listing(
    store: Store, station_ids: list[str] | None = None, status: str | None = None, limit: int = 500
) -> list[Case]:
    """Newest first; ``station_ids`` limits to those stations (an operator's), ``status`` to one status."""
    q = select(T.cases).order_by(_C.id.desc()).limit(max(1, min(limit, 5000)))
    if station_ids is not None:
        if not station_ids:
            return []
        q = q.where(_C.station_id.in_(list(station_ids)))
    if status is not None:
        q = q.where(_C.status == status)
    with store.engine.connect() as c:
        return [_case(r) for r in c.execute(q).all()]
