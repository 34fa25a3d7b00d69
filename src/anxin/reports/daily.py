"""Daily reports (日报): the figures of one local day, for the whole city (district
``""``) and for each district, kept in ``reports`` (kind ``daily``).

Idempotent on (kind, period, district) — the table's unique key: by default a report
already stored is left as it was (the first write wins: a daily report records what was
known when it was made) and its id returned; ``replace=True`` recomputes and overwrites
the figures (and ``created_us``) of the existing rows, for late-arriving data.

:func:`due_daily_reports` lists the days the live service should make next: every day
after the last city report up to yesterday (local); with none stored yet, only
yesterday (or every day from ``first_day`` when given) — never a backfill of all
history by surprise. At most ``max_days`` days are listed, oldest first.
"""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
from sqlalchemy import func, select, update

from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY
from anxin.reports.figures import day_start_us, period_figures
from anxin.store import schema as T
from anxin.store.database import Store

KIND = "daily"
CITY = ""


def local_date(us: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=(us + LOCAL_OFFSET_US) // US_PER_DAY)).isoformat()


def daily_report(store: Store, registry: Registry, *, day: str, now_us: int, replace: bool = False) -> int:
    """Store the figures of ``day`` (city + each district); the city report's id."""
    day_start_us(day)  # validates the date
    districts = [CITY, *sorted({s.district for s in registry.stations})]
    r = T.reports.c
    key = (r.kind == KIND, r.period_start == day, r.period_end == day)
    with store.engine.connect() as c:
        existing = dict(c.execute(select(r.district, r.id).where(*key, r.district.in_(districts))).all())
    todo = districts if replace else [d for d in districts if d not in existing]
    figures = {
        d: msgspec.to_builtins(period_figures(store, registry, start=day, end=day, district=d or None, now_us=now_us))
        for d in todo
    }
    with store.engine.begin() as c:
        for district, data in figures.items():
            if district in existing:
                c.execute(update(T.reports).where(r.id == existing[district]).values(figures=data, created_us=now_us))
            else:  # a concurrent maker may have stored it meanwhile: the first write wins
                c.execute(
                    store._insert(T.reports)
                    .values(
                        kind=KIND, period_start=day, period_end=day, district=district, created_us=now_us, figures=data
                    )
                    .on_conflict_do_nothing(index_elements=["kind", "period_start", "period_end", "district"])
                )
        return int(c.execute(select(r.id).where(*key, r.district == CITY)).scalar_one())


def stored_daily(store: Store, day: str, district: str = CITY) -> dict | None:
    """The stored figures of a daily report (None if not made)."""
    r = T.reports.c
    with store.engine.connect() as c:
        got = c.execute(
            select(r.figures).where(r.kind == KIND, r.period_start == day, r.period_end == day, r.district == district)
        ).scalar_one_or_none()
    if isinstance(got, str | bytes):
        got = msgspec.json.decode(got)
    return got


def due_daily_reports(store: Store, *, now_us: int, first_day: str | None = None, max_days: int = 366) -> list[str]:
    """The days (YYYY-MM-DD, oldest first) whose city daily report is missing: after the
    last one stored up to yesterday (local time of ``now_us``)."""
    yesterday = date.fromisoformat(local_date(now_us)) - timedelta(days=1)
    r = T.reports.c
    with store.engine.connect() as c:
        last = c.execute(
            select(func.max(r.period_start)).where(r.kind == KIND, r.district == CITY)
        ).scalar_one_or_none()
    if last is not None:
        start = date.fromisoformat(last) + timedelta(days=1)
    elif first_day is not None:
        start = date.fromisoformat(first_day)
    else:
        start = yesterday
    days: list[str] = []
    d = start
    while d <= yesterday and len(days) < max_days:
        days.append(d.isoformat())
        d += timedelta(days=1)
    return days


def make_due_daily_reports(store: Store, registry: Registry, *, now_us: int, first_day: str | None = None) -> list[int]:
    """Make every due daily report (the live service's scheduled job); their city ids."""
    return [
        daily_report(store, registry, day=d, now_us=now_us)
        for d in due_daily_reports(store, now_us=now_us, first_day=first_day)
    ]
