"""What is read about accounts and sessions: an account by name, every account with its
login throttle, the active staff of some roles, and a live session."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from anxin.auth.roles import User
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.database import now_us as wall_now_us

_U, _S = T.users.c, T.sessions.c


def to_user(row: Any) -> User:
    return User(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        stations=list(row.stations or []),
        district=row.district,
    )


def account(store: Store, name: str) -> Any | None:
    """The ``users`` row of the (normalised) username ``name``, or None."""
    with store.engine.connect() as c:
        return c.execute(select(T.users).where(_U.username == name)).first()


def list_users(store: Store) -> list[dict[str, Any]]:
    """Every account with its state (active; ``throttled_until_us``: when the login
    throttle admits its next attempt from a place it was not used before, 0 when at once),
    by username."""
    cols = [
        _U.id,
        _U.username,
        _U.display_name,
        _U.role,
        _U.stations,
        _U.district,
        _U.active,
        _U.failed_logins,
        _U.locked_until_us,
        _U.created_us,
    ]
    with store.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(select(*cols).order_by(_U.username)).all()]
    from anxin.auth import throttle as Th
    from anxin.store import throttle as counters

    now = wall_now_us()
    got = counters.peek(store, [f"login:user:{r['username']}" for r in rows], now_us=now)
    for r in rows:
        b = got[f"login:user:{r['username']}"]
        until = b.last_us + Th.delay_us(b.count, Th.FREE_ACCOUNT) if b.count >= Th.FREE_ACCOUNT else 0
        r["throttled_until_us"] = until if until > now else 0
    return rows


def active_staff(store: Store, roles: tuple[str, ...]) -> list[dict[str, Any]]:
    """Active accounts of these roles (username, display name, role), by username: the
    choices of assignee and inspector fields."""
    u = T.users.c
    with store.engine.connect() as c:
        rows = c.execute(
            select(u.username, u.display_name, u.role).where(u.role.in_(roles), u.active.is_(True)).order_by(u.username)
        ).all()
    return [dict(r._mapping) for r in rows]


def live_session(store: Store, digest: bytes, *, now_us: int) -> Any | None:
    """The account row (with the session's ``csrf``) of the live session whose token has
    this SHA-256: not expired, its account active; None otherwise."""
    with store.engine.connect() as c:
        return c.execute(
            select(T.users, _S.csrf)
            .join(T.sessions, _S.user_id == _U.id)
            .where(_S.token_sha256 == digest, _S.expires_us > now_us, _U.active.is_(True))
        ).first()
