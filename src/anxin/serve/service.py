"""What the service's administration writes: an API token stored (replacing the one
before) and an institute's token revoked, each with its audit entry in the same
transaction. Making and hashing a token is :mod:`anxin.serve.tokens`'."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from anxin.audit import append
from anxin.store import schema as T
from anxin.store.database import Store, now_us

Kind = Literal["station", "institute"]
_TABLES = {"station": T.station_tokens, "institute": T.institute_tokens}


def save_token(
    store: Store, *, kind: Kind, ident: str, digest: bytes, extra: dict[str, str], actor: str, now_us: int
) -> None:
    """The token (its SHA-256) of the station or institute ``ident``, in place of the one
    before; audited as ``token.issue`` by ``actor``."""
    key = f"{kind}_id"
    values: dict[str, object] = {key: ident, "token_sha256": digest, "created_us": now_us, **extra}
    insert = sqlite_insert if store.dialect == "sqlite" else pg_insert
    stmt = insert(_TABLES[kind]).values(**values)
    with store.engine.begin() as c:
        c.execute(stmt.on_conflict_do_update(index_elements=[key], set_={k: v for k, v in values.items() if k != key}))
        append(
            c,
            actor=actor[:64] or "admin",
            action="token.issue",
            subject=f"{kind}:{ident}"[:200],
            reason="API token issued (the one before revoked)",
            data={"token_sha256_prefix": digest[:4].hex()},
            now_us=now_us,
        )


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
