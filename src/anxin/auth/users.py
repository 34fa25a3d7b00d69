"""Accounts (用户): create, change password, deactivate — each written to the audit log in
the same transaction as the change. Usernames are lower-case ASCII (``zhang.wei``); the
display name carries the person's name (张伟)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from anxin import audit
from anxin.auth.passwords import AuthError, check_password_rules, hash_password
from anxin.auth.roles import OPERATOR, ROLES, User
from anxin.i18n import t
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.database import now_us as wall_now_us
from anxin.store.results import inserted_id

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_U = T.users.c


class UserError(AuthError):
    pass


def normalise_username(username: str) -> str:
    return username.strip().lower() if isinstance(username, str) else ""


def create_user(
    store: Store,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    stations: Iterable[str] = (),
    district: str | None = None,
    actor: str,
    reason: str,
    now_us: int,
) -> User:
    name = normalise_username(username)
    if not _USERNAME.fullmatch(name):
        raise UserError(t("user_bad_name"))
    display_name = (display_name or "").strip()
    if not 0 < len(display_name) <= 128:
        raise UserError(t("user_bad_display"))
    if role not in ROLES:
        raise UserError(t("user_bad_role").format(role=role, roles=", ".join(ROLES)))
    station_list = sorted({s.strip() for s in stations if s and s.strip()})
    if station_list and role != OPERATOR:
        raise UserError(t("user_stations_operator_only"))
    if any(len(s) > 128 for s in station_list):
        raise UserError(t("user_bad_station"))
    district = (district.strip() or None) if district else None
    if district is not None and len(district) > 64:
        raise UserError(t("user_bad_district"))
    check_password_rules(password, username=name)
    password_hash = hash_password(password)
    try:
        with store.engine.begin() as c:
            if c.execute(select(_U.id).where(_U.username == name)).first() is not None:
                raise UserError(t("user_exists").format(username=name))
            res = c.execute(
                T.users.insert().values(
                    username=name,
                    display_name=display_name,
                    role=role,
                    stations=station_list,
                    district=district,
                    password_hash=password_hash,
                    failed_logins=0,
                    locked_until_us=0,
                    active=True,
                    created_us=now_us,
                )
            )
            user = User(
                id=inserted_id(res),
                username=name,
                display_name=display_name,
                role=role,
                stations=station_list,
                district=district,
            )
            audit.append(
                c,
                actor=actor,
                action="user.create",
                subject=f"user:{name}",
                reason=reason,
                now_us=now_us,
                data={"role": role, "display_name": display_name, "stations": station_list, "district": district},
            )
    except IntegrityError as exc:  # created by someone else between the check and the insert
        raise UserError(t("user_exists").format(username=name)) from exc
    return user


def set_password(store: Store, *, username: str, password: str, actor: str, reason: str, now_us: int) -> None:
    """Set a new password; forgets the account's failed logins (the throttle) and ends
    the user's sessions (audited)."""
    name = normalise_username(username)
    check_password_rules(password, username=name)
    password_hash = hash_password(password)
    with store.engine.begin() as c:
        uid = _id(c, name)
        c.execute(
            update(T.users).where(_U.id == uid).values(password_hash=password_hash, failed_logins=0, locked_until_us=0)
        )
        ended = c.execute(delete(T.sessions).where(T.sessions.c.user_id == uid)).rowcount
        audit.append(
            c,
            actor=actor,
            action="user.password",
            subject=f"user:{name}",
            reason=reason,
            now_us=now_us,
            data={"sessions_ended": int(ended or 0)},
        )
    from anxin.auth.throttle import lift  # (auth.throttle imports the audit log, not the accounts)

    lift(store, name)


def deactivate(store: Store, *, username: str, actor: str, reason: str, now_us: int) -> None:
    """The account can no longer log in and its sessions end (audited; the row stays, as
    the audit log and work orders name it)."""
    name = normalise_username(username)
    with store.engine.begin() as c:
        uid = _id(c, name)
        c.execute(update(T.users).where(_U.id == uid).values(active=False))
        ended = c.execute(delete(T.sessions).where(T.sessions.c.user_id == uid)).rowcount
        audit.append(
            c,
            actor=actor,
            action="user.deactivate",
            subject=f"user:{name}",
            reason=reason,
            now_us=now_us,
            data={"sessions_ended": int(ended or 0)},
        )


def get_user(store: Store, username: str) -> User | None:
    with store.engine.connect() as c:
        row = c.execute(select(T.users).where(_U.username == normalise_username(username))).first()
    return to_user(row) if row is not None else None


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


def to_user(row: Any) -> User:
    return User(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        stations=list(row.stations or []),
        district=row.district,
    )


def _id(c: Connection, name: str) -> int:
    uid = c.execute(select(_U.id).where(_U.username == name)).scalar_one_or_none()
    if uid is None:
        raise UserError(t("user_unknown").format(username=name))
    return int(uid)
