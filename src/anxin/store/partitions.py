"""The scale-out's partitions in the store (issue 15): each partition's place in its
stream, advanced in the same transaction as the ledger rows and outputs its worker
derived from the messages up to there.

Fencing: a worker takes a partition with the revision of its lease (``epoch``, which
only grows); a step commits only from the position the worker last read and only under
the newest epoch. A redelivery therefore changes nothing, and a worker that lost its
lease — cut off, paused, or slow — cannot write behind its successor's back: its
transaction fails with :class:`Fenced` and rolls back whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from anxin.contract.alarm import Alarm
from anxin.store import schema as T
from anxin.store.database import Store, now_us
from anxin.store.ledger import LedgerRow


class Fenced(Exception):
    """The partition moved on under another owner, or a newer lease holds it."""


def worker_app(worker: str) -> str:
    """The application_name of a worker's PostgreSQL sessions."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "_", "anxin-worker:" + worker)[:63]


def claim(store: Store, part: int, *, epoch: int, owner: str) -> int:
    """Take ``part`` for the lease revision ``epoch``: returns the stream sequence the
    store holds for it (0: nothing consumed yet). Raises :class:`Fenced` when a newer
    lease has claimed it already.

    The previous holder may be cut off inside a transaction that locks the partition's
    row — PostgreSQL does not see a silent client for a long time (a connection through
    a proxy that stays up: never). When the claim's lock wait times out (the session's
    ``lock_timeout``), the previous holder's sessions are ended: its lease has expired,
    so whatever it was doing would be fenced anyway, and its transaction rolls back."""
    try:
        return _claim(store, part, epoch=epoch, owner=owner)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
    P = T.stream_positions.c
    with store.engine.connect() as c:
        before = c.execute(select(P.owner).where(P.part == part)).scalar_one_or_none()
    if before is not None and before != owner:
        with store.engine.begin() as c:
            c.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :app AND pid <> pg_backend_pid()"
                ),
                {"app": worker_app(before)},
            )
    return _claim(store, part, epoch=epoch, owner=owner)


def _claim(store: Store, part: int, *, epoch: int, owner: str) -> int:
    P = T.stream_positions
    with store.engine.begin() as c:
        c.execute(
            store._insert(P)
            .values(part=part, seq=0, epoch=epoch, owner=owner[:128], updated_us=now_us())
            .on_conflict_do_nothing(index_elements=["part"])
        )
        got = c.execute(
            update(P)
            .where(P.c.part == part, P.c.epoch <= epoch)
            .values(epoch=epoch, owner=owner[:128], updated_us=now_us())
            .returning(P.c.seq)
        ).first()
    if got is None:
        raise Fenced(f"partition {part} is held under a newer lease than {epoch}")
    return int(got[0])


def deployment(store: Store) -> str | None:
    """What the store's ledger was written by: ``"cluster"`` (a scale-out's partitions),
    ``"single"`` (one engine: ``anxin serve``), or None (nothing yet). The two never share
    a database: each would miss the other's rows."""
    L, P = T.ledger.c, T.stream_positions.c
    with store.engine.connect() as c:
        if c.execute(select(P.part).limit(1)).first() is not None:
            return "cluster"
        if c.execute(select(L.id).where(L.part.is_not(None)).limit(1)).first() is not None:
            return "cluster"
        if c.execute(select(L.id).where(L.part.is_(None)).limit(1)).first() is not None:
            return "single"
    return None


def positions(store: Store) -> dict[int, dict[str, Any]]:
    """Every partition's stored position: {part: {seq, epoch, owner, updated_us}}."""
    P = T.stream_positions.c
    with store.engine.connect() as c:
        rows = c.execute(select(P.part, P.seq, P.epoch, P.owner, P.updated_us).order_by(P.part)).all()
    return {int(r[0]): {"seq": int(r[1]), "epoch": int(r[2]), "owner": r[3], "updated_us": int(r[4])} for r in rows}


def step(
    store: Store,
    *,
    part: int,
    seq_from: int,
    seq_to: int,
    epoch: int,
    rows: Sequence[LedgerRow],
    feed: Callable[[list[int | None]], Sequence[Any]],
) -> list[Alarm]:
    """One transaction: the position moves from ``seq_from`` to ``seq_to`` (else
    :class:`Fenced`), ``rows`` are appended to the ledger, ``feed`` (given each row's new
    ledger id, None for one already there) returns the engine's outputs, which are
    stored. Returns the alarms new to the store. Anything raised rolls it all back."""
    P = T.stream_positions
    with store.engine.begin() as c:
        moved = c.execute(
            update(P)
            .where(P.c.part == part, P.c.seq == seq_from, P.c.epoch == epoch)
            .values(seq=seq_to, updated_us=now_us())
            .returning(P.c.part)
        ).first()
        if moved is None:
            raise Fenced(f"partition {part} is no longer at {seq_from} under lease {epoch}")
        ids = store.append_on(c, rows)
        outputs = feed(ids)
        return store.save_outputs_on(c, outputs) if outputs else []
