"""What the supervision concepts read alike: a subject's history in the audit log, and
the ``IN`` filter of their listings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from anxin.store import schema as T
from anxin.store.database import Store


def history(store: Store, subject: str) -> list[dict[str, Any]]:
    """The audit entries of ``subject``, oldest first (the handling's history)."""
    L = T.audit_log.c
    with store.engine.connect() as c:
        rows = c.execute(
            select(L.seq, L.ts_us, L.actor, L.action, L.reason, L.data).where(L.subject == subject).order_by(L.seq)
        ).all()
    return [
        {
            "seq": int(r.seq),
            "ts_us": int(r.ts_us),
            "actor": r.actor,
            "action": r.action,
            "reason": r.reason,
            "data": r.data,
        }
        for r in rows
    ]


def in_list(col: Any, values: Iterable[str] | None) -> Any | None:
    """``col IN values`` (None: no filter)."""
    if values is None:
        return None
    return col.in_(list(values))
