"""The platform's published keys, read (never a private key)."""

from __future__ import annotations

from sqlalchemy import select

from anxin.store import schema as T
from anxin.store.database import Store


def published_keys(store: Store) -> list[dict[str, object]]:
    """Every public key the platform has signed with (oldest first; never a private key)."""
    pk = T.platform_keys.c
    with store.engine.connect() as c:
        rows = c.execute(select(pk.key_id, pk.alg, pk.public_key, pk.created_us).order_by(pk.created_us)).all()
    return [dict(r._mapping) for r in rows]
