"""What the supervision concepts write alike: one hash-chained audit entry in the
caller's transaction (each concept's ``service`` opens the transaction,
:func:`anxin.store.transactions.write_transaction`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from anxin.audit import append


def audit(
    conn: Connection, *, actor: str, action: str, subject: str, reason: str, data: dict[str, Any], now_us: int
) -> int:
    """One hash-chained audit entry in the caller's transaction."""
    return append(conn, actor=actor, action=action, subject=subject, reason=reason, data=data, now_us=now_us)
