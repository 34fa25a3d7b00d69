"""Reading the audit log: the chain verified (:func:`verify`), its newest entry as an
anchor (:func:`head`), and pages of entries (:func:`entries`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from anxin.audit.chain import AuditEntry, AuditReport, verify_rows
from anxin.store import schema as T
from anxin.store.database import Store

_L = T.audit_log.c
_CONTENT = (_L.ts_us, _L.actor, _L.action, _L.subject, _L.reason, _L.data)


def verify(store: Store, *, anchor: tuple[int, bytes] | None = None, batch: int = 2000) -> AuditReport:
    """Recompute the chain from the first entry; the first entry that does not fit is named.
    ``anchor`` = a (seq, hash) recorded earlier by :func:`head`: it must still be there."""
    return verify_rows(_batches(store, batch), anchor=anchor)


def _batches(store: Store, batch: int) -> Iterator[list[Any]]:
    """Every entry in ``seq`` order, ``batch`` at a time (a connection each)."""
    last = -(2**62)
    while True:
        with store.engine.connect() as c:
            rows = c.execute(
                select(_L.seq, *_CONTENT, _L.prev_hash, _L.hash).where(_L.seq > last).order_by(_L.seq).limit(batch)
            ).all()
        if not rows:
            return
        yield list(rows)
        last = int(rows[-1].seq)


def head(store: Store) -> tuple[int, bytes] | None:
    """(seq, hash) of the newest entry: what to record elsewhere as an anchor."""
    with store.engine.connect() as c:
        row = c.execute(select(_L.seq, _L.hash).order_by(_L.seq.desc()).limit(1)).first()
    return (int(row[0]), bytes(row[1])) if row else None


def entries(
    store: Store,
    *,
    subject: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[AuditEntry]:
    """Newest first; page on with ``before_seq`` = the last ``seq`` of the previous page."""
    q = select(T.audit_log).order_by(_L.seq.desc()).limit(max(1, min(limit, 1000)))
    if subject is not None:
        q = q.where(_L.subject == subject)
    if actor is not None:
        q = q.where(_L.actor == actor)
    if before_seq is not None:
        q = q.where(_L.seq < before_seq)
    with store.engine.connect() as c:
        rows = c.execute(q).all()
    return [
        AuditEntry(
            seq=int(r.seq),
            ts_us=int(r.ts_us),
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            reason=r.reason,
            data=r.data,
            prev_hash=bytes(r.prev_hash),
            hash=bytes(r.hash),
        )
        for r in rows
    ]
