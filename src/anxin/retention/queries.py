"""What the purge reads: each engine's newest checkpoint (rows after it are its restore),
the legal holds (records and alarms tied to an open case or complaint), and the rows
past their period."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select

from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision.bundle import _local_day
from anxin.supervision.bundle.queries import bundle_rows

_L, _CP = T.ledger.c, T.checkpoints.c
BATCH = 2000


class Holds(NamedTuple):
    ledger: set[int]  # ledger ids held
    alarms: set[str]  # alarm ids held
    cases: list[int]  # the open cases
    complaints: list[int]  # the open complaints


def checkpoint_bounds(store: Store) -> dict[int | None, int]:
    """Per engine (None: ``anxin serve``'s one engine; else a scale-out partition) the
    ledger id its newest checkpoint covers: a restore is that checkpoint and the rows
    after it, so only rows at or below it may go."""
    newest = select(_CP.part, func.max(_CP.id).label("id")).group_by(_CP.part).subquery()
    with store.engine.connect() as c:
        rows = c.execute(select(_CP.part, _CP.ledger_id).join(newest, newest.c.id == _CP.id)).all()
    return {(None if part is None else int(part)): int(lid) for part, lid in rows}


def holds(store: Store, *, now_us: int) -> Holds:
    """The legal holds: a case not closed keeps what its evidence bundle would hold (the
    same selection, :func:`anxin.supervision.bundle.queries.bundle_rows`); a complaint not
    closed keeps the records and alarms linked to it and its station's records and alarms
    of the day it concerns."""
    ledger: set[int] = set()
    alarms: set[str] = set()
    cs, co, k = T.cases.c, T.complaints.c, T.complaint_links.c
    with store.engine.connect() as c:
        cases = c.execute(select(cs.id, cs.station_id).where(cs.status != "closed").order_by(cs.id)).all()
        complaints = c.execute(
            select(co.id, co.station_id, co.event_ts_us, co.received_us).where(co.status != "closed").order_by(co.id)
        ).all()
    for case in cases:
        b = bundle_rows(store, int(case.id), station_id=case.station_id, now_us=now_us)
        ledger.update(int(r.id) for r in b.ledger)
        alarms.update(a.alarm_id for a in b.alarms)
        alarms.update(b.source_alarms)
    with store.engine.connect() as c:
        for comp in complaints:
            start, end = _local_day(int(comp.event_ts_us or comp.received_us))
            links = c.execute(select(k.kind, k.ref).where(k.complaint_id == comp.id)).all()
            keys = [r.ref for r in links if r.kind != "alarm"]
            alarms.update(r.ref for r in links if r.kind == "alarm")
            day = and_(_L.station_id == comp.station_id, _L.event_time_us >= start, _L.event_time_us <= end)
            cond = or_(day, and_(_L.station_id == comp.station_id, _L.natural_key.in_(keys))) if keys else day
            ledger.update(int(i) for i in c.execute(select(_L.id).where(cond)).scalars())
            A = T.alarms.c
            alarms.update(
                c.execute(
                    select(A.alarm_id).where(A.station_id == comp.station_id, A.ts_us >= start, A.ts_us <= end)
                ).scalars()
            )
    return Holds(ledger, alarms, [int(r.id) for r in cases], [int(r.id) for r in complaints])


def ledger_due(store: Store, *, before_us: int, bounds: dict[int | None, int]) -> Iterator[list[int]]:
    """Ids of ledger rows received before ``before_us`` and covered by their engine's
    newest checkpoint, in batches (oldest first). An engine with no checkpoint: none."""
    for part, upto in sorted(bounds.items(), key=lambda kv: -1 if kv[0] is None else kv[0]):
        mine = _L.part.is_(None) if part is None else _L.part == part
        last = 0
        while True:
            with store.engine.connect() as c:
                ids = [
                    int(i)
                    for i in c.execute(
                        select(_L.id)
                        .where(mine, _L.id > last, _L.id <= upto, _L.received_us < before_us)
                        .order_by(_L.id)
                        .limit(BATCH)
                    ).scalars()
                ]
            if not ids:
                break
            yield ids
            last = ids[-1]


def alarms_due(store: Store, *, before_us: int) -> Iterator[list[str]]:
    """Ids of alarms raised before ``before_us``, in batches."""
    A = T.alarms.c
    last = 0
    while True:
        with store.engine.connect() as c:
            rows = c.execute(
                select(A.ord, A.alarm_id).where(A.ord > last, A.raised_us < before_us).order_by(A.ord).limit(BATCH)
            ).all()
        if not rows:
            return
        yield [r.alarm_id for r in rows]
        last = int(rows[-1].ord)


def counts_before(store: Store, cutoffs: dict[str, int | None]) -> dict[str, int]:
    """How many rejects, sessions, finished webhook deliveries and complainants' contacts
    are past their period (``cutoffs``: the class's time limit, None: kept)."""
    out: dict[str, int] = {}
    with store.engine.connect() as c:
        for name, cond in _conditions(cutoffs):
            table = _TABLES[name]
            out[name] = int(c.execute(select(func.count()).select_from(table).where(cond)).scalar_one())
    return out


def complaint_files_due(store: Store, *, before_us: int) -> list[str]:
    """Attachment owners (``complaint:<id>``) of complaints closed before ``before_us`` that
    no open case was opened from: a photo of a receipt is personal data too."""
    co, cs = T.complaints.c, T.cases.c
    with store.engine.connect() as c:
        closed = c.execute(select(co.id).where(co.status == "closed", co.closed_us < before_us)).scalars().all()
        held = set(c.execute(select(cs.source).where(cs.status != "closed")).scalars())
        owners = [f"complaint:{int(i)}" for i in closed if f"complaint:{int(i)}" not in held]
        if not owners:
            return []
        A = T.attachments.c
        return sorted(
            {o for chunk in _chunks(owners) for o in c.execute(select(A.owner).where(A.owner.in_(chunk))).scalars()}
        )


def _chunks(items: list[str], n: int = 500) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


_TABLES = {
    "rejects": T.rejects,
    "sessions": T.sessions,
    "webhook_deliveries": T.webhook_deliveries,
    "complaint_contacts": T.complaints,
    "request_contacts": T.citizen_requests,
}


def _conditions(cutoffs: dict[str, int | None]) -> list[tuple[str, Any]]:
    """(table key, condition) of what is past its period in the simple classes."""
    out: list[tuple[str, Any]] = []
    if (t := cutoffs.get("rejects")) is not None:
        out.append(("rejects", T.rejects.c.received_us < t))
    if (t := cutoffs.get("sessions")) is not None:
        out.append(("sessions", T.sessions.c.expires_us < t))
    if (t := cutoffs.get("webhook_deliveries")) is not None:
        d = T.webhook_deliveries.c
        out.append(("webhook_deliveries", and_(d.status != "pending", d.next_attempt_us < t)))
    if (t := cutoffs.get("complainant")) is not None:
        co, r = T.complaints.c, T.citizen_requests.c
        out.append(("complaint_contacts", and_(co.contact.is_not(None), co.status == "closed", co.closed_us < t)))
        out.append(("request_contacts", and_(r.contact.is_not(None), r.status == "done", r.requested_us < t)))
    return out


conditions = _conditions
TABLES = _TABLES
