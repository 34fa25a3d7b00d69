"""Writing the audit log: :func:`append` in the caller's transaction, :func:`record` in a
transaction of its own. The recipe and the locking are :mod:`anxin.audit.chain`'s
docstring; the content's checks and hashing are that module's."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select, text, update

from anxin.audit.chain import ZERO_HASH, canonical_row, checked_content, entry_hash
from anxin.store import schema as T
from anxin.store.database import Store

_PG_LOCK_KEY = 0x616E78696E_417564  # "anxin" "Aud": the advisory lock of the audit chain
_L = T.audit_log.c
_CONTENT = (_L.ts_us, _L.actor, _L.action, _L.subject, _L.reason, _L.data)


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    data: Mapping[str, Any] | None = None,
    now_us: int,
) -> int:
    """Write one entry in the caller's transaction (``conn`` from ``store.engine.begin()``);
    returns its ``seq``. Raises ValueError on content the log cannot hold faithfully."""
    fields, data = checked_content(actor=actor, action=action, subject=subject, reason=reason, data=data, now_us=now_us)
    if conn.dialect.name == "postgresql":
        isolation = conn.execute(
            text("SELECT current_setting('transaction_isolation') FROM (SELECT pg_advisory_xact_lock(:k)) AS l"),
            {"k": _PG_LOCK_KEY},
        ).scalar_one()
        if isolation != "read committed":
            raise RuntimeError(f"audit.append needs a READ COMMITTED transaction, not {isolation}")
    row = conn.execute(
        T.audit_log.insert()
        .values(ts_us=now_us, **fields, data=data, prev_hash=ZERO_HASH, hash=secrets.token_bytes(32))
        .returning(_L.seq, *_CONTENT)
    ).one()
    seq = int(row.seq)
    prev = conn.execute(select(_L.hash).where(_L.seq < seq).order_by(_L.seq.desc()).limit(1)).scalar_one_or_none()
    prev_hash = bytes(prev) if prev is not None else ZERO_HASH
    digest = entry_hash(prev_hash, canonical_row(row))
    conn.execute(update(T.audit_log).where(_L.seq == seq).values(prev_hash=prev_hash, hash=digest))
    return seq


def record(
    store: Store,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    data: Mapping[str, Any] | None = None,
    now_us: int,
) -> int:
    """One entry in a transaction of its own, for an event that changes nothing else
    (a login, a download, an import done through the ingest path)."""
    with store.engine.begin() as conn:
        return append(conn, actor=actor, action=action, subject=subject, reason=reason, data=data, now_us=now_us)
