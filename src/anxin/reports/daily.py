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

The statements are :mod:`anxin.reports.queries`' and :mod:`anxin.reports.service`'s.
"""

from __future__ import annotations

from datetime import date, timedelta

import msgspec

from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_OFFSET_US, US_PER_DAY
from anxin.reports import queries, service
from anxin.reports.figures import day_start_us, period_figures
from anxin.store.database import Store

KIND = "daily"
CITY = ""


def local_date(us: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=(us + LOCAL_OFFSET_US) // US_PER_DAY)).isoformat()


def daily_report(store: Store, registry: Registry, *, day: str, now_us: int, replace: bool = False) -> int:
    """Store the figures of ``day`` (city + each district); the city report's id."""
    day_start_us(day)  # validates the date
    districts = [CITY, *sorted({s.district for s in registry.stations})]
    existing = queries.report_ids(store, kind=KIND, start=day, end=day, districts=districts)
    todo = districts if replace else [d for d in districts if d not in existing]
    figures = {
        d: msgspec.to_builtins(period_figures(store, registry, start=day, end=day, district=d or None, now_us=now_us))
        for d in todo
    }
    return service.save_reports(
        store, kind=KIND, start=day, end=day, figures=figures, existing=existing, now_us=now_us, answer=CITY
    )


def stored_daily(store: Store, day: str, district: str = CITY) -> dict | None:
    """The stored figures of a daily report (None if not made)."""
    return queries.report_figures(store, kind=KIND, start=day, end=day, district=district)


def due_daily_reports(store: Store, *, now_us: int, first_day: str | None = None, max_days: int = 366) -> list[str]:
    """The days (YYYY-MM-DD, oldest first) whose city daily report is missing: after the
    last one stored up to yesterday (local time of ``now_us``)."""
    yesterday = date.fromisoformat(local_date(now_us)) - timedelta(days=1)
    last = queries.last_report_start(store, kind=KIND, district=CITY)
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
