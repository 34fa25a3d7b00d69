"""What the service reads of its tokens: whose token a SHA-256 is (on every upload), and
the institutes that have one (never a token)."""

from __future__ import annotations

from sqlalchemy import select

from anxin.ingest.principals import Principal
from anxin.store import schema as T
from anxin.store.database import Store


def principal_of_digest(store: Store, digest: bytes) -> Principal | None:
    """The station or institute whose token has this SHA-256, read now; None if nobody's."""
    st, it = T.station_tokens.c, T.institute_tokens.c
    with store.engine.connect() as c:
        station = c.execute(select(st.station_id).where(st.token_sha256 == digest).limit(1)).scalar_one_or_none()
        if station is not None:
            return Principal.station(station)
        institute = c.execute(select(it.institute_id).where(it.token_sha256 == digest).limit(1)).scalar_one_or_none()
    return Principal.institute(institute) if institute is not None else None


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
