"""What the reports write: a period's figures stored per district (the daily reports of
:mod:`anxin.reports.daily`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from anxin.store import schema as T
from anxin.store.database import Store


def save_reports(
    store: Store,
    *,
    kind: str,
    start: str,
    end: str,
    figures: dict[str, Any],
    existing: dict[str, int],
    now_us: int,
    answer: str,
) -> int:
    """Store each district's ``figures`` (district → figures) as the report (``kind``,
    ``start``, ``end``): over the stored one when ``existing`` names it (district → id),
    else a new one — unless a concurrent maker stored it meanwhile (the first write wins).
    Returns the id of district ``answer``'s report; one transaction."""
    r = T.reports.c
    key = (r.kind == kind, r.period_start == start, r.period_end == end)
    with store.engine.begin() as c:
        for district, data in figures.items():
            if district in existing:
                c.execute(update(T.reports).where(r.id == existing[district]).values(figures=data, created_us=now_us))
            else:  # a concurrent maker may have stored it meanwhile: the first write wins
                c.execute(
                    store._insert(T.reports)
                    .values(
                        kind=kind,
                        period_start=start,
                        period_end=end,
                        district=district,
                        created_us=now_us,
                        figures=data,
                    )
                    .on_conflict_do_nothing(index_elements=["kind", "period_start", "period_end", "district"])
                )
        return int(c.execute(select(r.id).where(*key, r.district == answer)).scalar_one())
