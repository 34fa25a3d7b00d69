"""What the agency exports read and write (the only SQL of :mod:`anxin.exports`): the
period's metering and settlement rows of the ledger, its quarantined rows and alarms,
and the agencies' read tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, select, update

from anxin.audit.service import append as audit_append
from anxin.contract.times import US_PER_DAY
from anxin.store import schema as T
from anxin.store.database import Store

BATCH = 5000  # ledger rows fetched at a time (a month of a city is millions)


class SaleRow(NamedTuple):
    """The fields of a metering or settlement row of the ledger that :func:`sale_rows`
    yields (as the database's rows: ``body`` bytes, or a memoryview)."""

    station_id: str
    kind: str  # metering | settlement
    natural_key: str
    event_time_us: int
    verdict: int | None
    body: bytes


def sale_rows(store: Store, *, stations: Sequence[str], lo_us: int, hi_us: int) -> Iterator[Any]:
    """Every metering and settlement row of ``stations`` with an event time in [``lo_us``,
    ``hi_us``), not quarantined and not set aside (a row the platform could not process),
    station by station in ledger order (the first arrival of a natural key first),
    streamed: one range of the (station, event time) index per station, read once."""
    L, S = T.ledger.c, T.ledger_skipped.c
    skipped = select(S.ledger_id)
    for sid in stations:
        q = (
            select(L.station_id, L.kind, L.natural_key, L.event_time_us, L.verdict, L.body)
            .where(
                L.station_id == sid,
                L.event_time_us >= lo_us,
                L.event_time_us < hi_us,
                L.kind.in_(("metering", "settlement")),
                L.quarantined.is_(False),
                L.id.not_in(skipped),
            )
            .order_by(L.id)
        )
        with store.engine.connect() as c:
            for rows in c.execution_options(yield_per=BATCH).execute(q).partitions():
                yield from rows  # (Rows with SaleRow's fields: no object per row)


def quarantined_times(store: Store, *, stations: Sequence[str], lo_us: int, hi_us: int) -> list[tuple[str, int]]:
    """(station, event time) of each quarantined ledger row in the period: forged, an
    unknown device, a clock far ahead (contract v1 §5, v1.1 §B)."""
    L = T.ledger.c
    out: list[tuple[str, int]] = []
    with store.engine.connect() as c:
        for chunk in _chunks(list(stations), 500):
            out += [
                (s, int(t))
                for s, t in c.execute(
                    select(L.station_id, L.event_time_us).where(
                        L.station_id.in_(chunk),
                        L.quarantined.is_(True),
                        L.event_time_us >= lo_us,
                        L.event_time_us < hi_us,
                    )
                ).all()
            ]
    return out


def alarm_times(store: Store, *, stations: Sequence[str], lo_us: int, hi_us: int) -> list[tuple[str, int, str]]:
    """(station, event time, rule) of each alarm of ``stations`` in the period."""
    a = T.alarms.c
    out: list[tuple[str, int, str]] = []
    with store.engine.connect() as c:
        for chunk in _chunks(list(stations), 500):
            out += [
                (s, int(t), r)
                for s, t, r in c.execute(
                    select(a.station_id, a.ts_us, a.rule).where(
                        a.station_id.in_(chunk), a.ts_us >= lo_us, a.ts_us < hi_us
                    )
                ).all()
            ]
    return out


def active_days(
    store: Store, *, stations: Sequence[str], lo_us: int, hi_us: int, offset_us: int
) -> set[tuple[str, int]]:
    """(station, local day number) of every day in the period with any record of the
    station in the ledger (any kind, quarantined or not; not the platform's ticks)."""
    L = T.ledger.c
    day = (L.event_time_us + offset_us) // US_PER_DAY
    out: set[tuple[str, int]] = set()
    with store.engine.connect() as c:
        for chunk in _chunks(list(stations), 500):
            q = (
                select(L.station_id, day)
                .where(L.station_id.in_(chunk), L.kind != "tick", L.event_time_us >= lo_us, L.event_time_us < hi_us)
                .group_by(L.station_id, day)
            )
            out |= {(s, int(d)) for s, d in c.execute(q).all()}
    return out


def _chunks(items: list[str], n: int) -> Iterator[list[str]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


# --------------------------------------------------------------------------- agency tokens
def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AgencyToken(NamedTuple):
    id: int
    agency: str
    kinds: tuple[str, ...]
    district: str | None
    created_us: int
    created_by: str
    revoked_us: int | None


def _token(row: Any) -> AgencyToken:
    return AgencyToken(
        int(row.id),
        row.agency,
        tuple(k for k in row.kinds.split(",") if k),
        row.district,
        int(row.created_us),
        row.created_by,
        None if row.revoked_us is None else int(row.revoked_us),
    )


def save_token(
    store: Store,
    *,
    agency: str,
    kinds: Sequence[str],
    district: str | None,
    token: str,
    actor: str,
    reason: str,
    now_us: int,
) -> int:
    """Store a new agency token (its SHA-256) with its audit entry, in one transaction."""
    t = T.agency_tokens
    with store.engine.begin() as c:
        tid = int(
            c.execute(
                t.insert()
                .values(
                    agency=agency,
                    kinds=",".join(sorted(kinds)),
                    district=district,
                    token_sha256=token_digest(token),
                    created_us=now_us,
                    created_by=actor,
                )
                .returning(t.c.id)
            ).scalar_one()
        )
        audit_append(
            c,
            actor=actor,
            action="agency_token.issue",
            subject=f"agency_token:{tid}",
            reason=reason,
            data={"agency": agency, "kinds": sorted(kinds), "district": district},
            now_us=now_us,
        )
    return tid


def revoke_token(store: Store, *, token_id: int, actor: str, reason: str, now_us: int) -> bool:
    """Revoke token ``token_id`` (False: no such token, or revoked already), audited."""
    t = T.agency_tokens.c
    with store.engine.begin() as c:
        n = c.execute(
            update(T.agency_tokens).where(and_(t.id == token_id, t.revoked_us.is_(None))).values(revoked_us=now_us)
        ).rowcount
        if n:
            audit_append(
                c,
                actor=actor,
                action="agency_token.revoke",
                subject=f"agency_token:{token_id}",
                reason=reason,
                data={},
                now_us=now_us,
            )
    return bool(n)


def find_token(store: Store, token: str) -> AgencyToken | None:
    """The live (not revoked) agency token ``token``, or None."""
    t = T.agency_tokens.c
    with store.engine.connect() as c:
        row = c.execute(
            select(T.agency_tokens).where(t.token_sha256 == token_digest(token), t.revoked_us.is_(None))
        ).one_or_none()
    return None if row is None else _token(row)


def list_tokens(store: Store) -> list[AgencyToken]:
    with store.engine.connect() as c:
        return [_token(r) for r in c.execute(select(T.agency_tokens).order_by(T.agency_tokens.c.id)).all()]
