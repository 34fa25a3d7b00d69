"""The platform's key kept in the database (``platform_keys``): made on first use, or a
configured key's public half recorded. The key itself is :mod:`anxin.supervision.signing`'s."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from anxin.crypto.schemes import KeyFormatError
from anxin.crypto.sm2 import N as SM2_N
from anxin.store import schema as T
from anxin.store.database import Store, now_us
from anxin.supervision.signing import ALGORITHMS, PlatformKey, _from_private, parse_key_text


def _record(store: Store, key: PlatformKey, private: bytes | None) -> None:
    insert = sqlite_insert if store.dialect == "sqlite" else pg_insert
    with store.engine.begin() as c:
        c.execute(
            insert(T.platform_keys)
            .values(key_id=key.key_id, alg=key.alg, public_key=key.public_key, private_key=private, created_us=now_us())
            .on_conflict_do_nothing(index_elements=["key_id"])
        )


def platform_key(store: Store, *, key_text: str | None = None, alg: str = "ed25519") -> PlatformKey:
    """The key that signs now: the configured one (``key_text``), else the platform's
    oldest stored key of ``alg``, made and stored on first use. Every process of one
    database converges on the same key (the oldest), even when two made one at once."""
    if key_text is not None:
        kalg, signer = parse_key_text(key_text)
        key = PlatformKey(kalg, signer.public_key_text, signer)
        _record(store, key, None)  # published; its private half stays in its file
        return key
    if alg not in ALGORITHMS:
        raise KeyFormatError("signing_alg", alg=alg, allowed=", ".join(ALGORITHMS))
    pk = T.platform_keys.c
    q = (
        select(pk.alg, pk.public_key, pk.private_key)
        .where(pk.alg == alg, pk.private_key.is_not(None))
        .order_by(pk.created_us, pk.key_id)
        .limit(1)
    )
    with store.engine.connect() as c:
        row = c.execute(q).first()
    if row is None:
        raw = secrets.token_bytes(32) if alg == "ed25519" else (secrets.randbelow(SM2_N - 1) + 1).to_bytes(32, "big")
        signer = _from_private(alg, raw)
        _record(store, PlatformKey(alg, signer.public_key_text, signer), raw)
        with store.engine.connect() as c:
            row = c.execute(q).one()
    return PlatformKey(row.alg, row.public_key, _from_private(row.alg, bytes(row.private_key)))
