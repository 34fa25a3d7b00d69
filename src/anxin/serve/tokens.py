"""API tokens (接口令牌) of the stations and of the verification institutes, stored as
SHA-256 only. The same functions serve the admin API and the command line
(``anxin token S0001``, ``anxin token --institute I01``).

A token is looked up in the database on every upload and MQTT message (one indexed
query): nothing is cached in a process, so a token reissued by any process — the CLI
against the service's database, another worker, the admin API — is refused
everywhere at once, and the new one accepted at once.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from anxin.audit.chain import append
from anxin.ingest.principals import Principal
from anxin.store import schema as T
from anxin.store.database import Store, now_us


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def issue_station_token(store: Store, station_id: str, *, actor: str = "admin") -> str:
    """A new token for ``station_id``; the one before stops working at once. Audited."""
    return _issue(store, T.station_tokens, "station_id", station_id, {}, actor=actor)


def issue_institute_token(store: Store, institute_id: str, name: str, *, actor: str = "admin") -> str:
    """A new token for the verification institute ``institute_id`` (its display
    ``name`` kept with it); the one before stops working at once. Audited."""
    return _issue(store, T.institute_tokens, "institute_id", institute_id, {"name": name}, actor=actor)


def _issue(store: Store, table: Table, key: str, ident: str, extra: dict[str, str], *, actor: str) -> str:
    token, when = new_token(), now_us()
    digest = _digest(token)
    values: dict[str, object] = {key: ident, "token_sha256": digest, "created_us": when, **extra}
    insert = sqlite_insert if store.dialect == "sqlite" else pg_insert
    stmt = insert(table).values(**values)
    with store.engine.begin() as c:
        c.execute(stmt.on_conflict_do_update(index_elements=[key], set_={k: v for k, v in values.items() if k != key}))
        append(
            c,
            actor=actor[:64] or "admin",
            action="token.issue",
            subject=f"{key.removesuffix('_id')}:{ident}"[:200],
            reason="API token issued (the one before revoked)",
            data={"token_sha256_prefix": digest[:4].hex()},
            now_us=when,
        )
    return token


def revoke_institute_token(store: Store, institute_id: str, *, actor: str = "admin") -> bool:
    """The institute's token stops working at once; False when it had none. Audited."""
    with store.engine.begin() as c:
        gone = c.execute(T.institute_tokens.delete().where(T.institute_tokens.c.institute_id == institute_id)).rowcount
        if gone:
            append(
                c,
                actor=actor[:64] or "admin",
                action="token.revoke",
                subject=f"institute:{institute_id}"[:200],
                reason="API token revoked",
                data={},
                now_us=now_us(),
            )
    return gone > 0


def institutes(store: Store) -> list[dict[str, object]]:
    """The institutes that have a token: id, name, when issued (never the token)."""
    it = T.institute_tokens.c
    with store.engine.connect() as c:
        rows = c.execute(select(it.institute_id, it.name, it.created_us).order_by(it.institute_id)).all()
    return [dict(r._mapping) for r in rows]


def institute_names(store: Store) -> dict[str, str]:
    it = T.institute_tokens.c
    with store.engine.connect() as c:
        return {a: b for a, b in c.execute(select(it.institute_id, it.name)).all()}


def principal_of(store: Store, token: str) -> Principal | None:
    """Whose token this is (a station or an institute), read from the database now;
    None for an unknown token."""
    digest = _digest(token)
    st, it = T.station_tokens.c, T.institute_tokens.c
    with store.engine.connect() as c:
        station = c.execute(select(st.station_id).where(st.token_sha256 == digest).limit(1)).scalar_one_or_none()
        if station is not None:
            return Principal.station(station)
        institute = c.execute(select(it.institute_id).where(it.token_sha256 == digest).limit(1)).scalar_one_or_none()
    return Principal.institute(institute) if institute is not None else None


__all__ = [
    "institute_names",
    "institutes",
    "issue_institute_token",
    "issue_station_token",
    "principal_of",
    "revoke_institute_token",
]
