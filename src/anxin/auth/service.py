"""What changes accounts and sessions, each change with its audit entry in the same
transaction: an account created, its password replaced, an account deactivated; a
session opened at login and ended at logout. The checks before are
:mod:`anxin.auth.users`' and :mod:`anxin.auth.sessions`'."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.exc import IntegrityError

from anxin import audit
from anxin.auth.passwords import UserError
from anxin.auth.roles import User
from anxin.i18n import t
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id

_U, _S = T.users.c, T.sessions.c


def insert_user(
    store: Store,
    *,
    username: str,
    display_name: str,
    role: str,
    stations: list[str],
    district: str | None,
    password_hash: str,
    actor: str,
    reason: str,
    now_us: int,
) -> User:
    """A new account (checked by :func:`anxin.auth.users.checked_account`), audited;
    UserError when the username is taken."""
    try:
        with store.engine.begin() as c:
            if c.execute(select(_U.id).where(_U.username == username)).first() is not None:
                raise UserError(t("user_exists").format(username=username))
            res = c.execute(
                T.users.insert().values(
                    username=username,
                    display_name=display_name,
                    role=role,
                    stations=stations,
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
                username=username,
                display_name=display_name,
                role=role,
                stations=stations,
                district=district,
            )
            audit.append(
                c,
                actor=actor,
                action="user.create",
                subject=f"user:{username}",
                reason=reason,
                now_us=now_us,
                data={"role": role, "display_name": display_name, "stations": stations, "district": district},
            )
    except IntegrityError as exc:  # created by someone else between the check and the insert
        raise UserError(t("user_exists").format(username=username)) from exc
    return user


def replace_password(store: Store, *, username: str, password_hash: str, actor: str, reason: str, now_us: int) -> None:
    """The account's new password hash; its failed logins forgotten and its sessions
    ended (audited). UserError when there is no such account."""
    with store.engine.begin() as c:
        uid = _id(c, username)
        c.execute(
            update(T.users).where(_U.id == uid).values(password_hash=password_hash, failed_logins=0, locked_until_us=0)
        )
        ended = c.execute(delete(T.sessions).where(T.sessions.c.user_id == uid)).rowcount
        audit.append(
            c,
            actor=actor,
            action="user.password",
            subject=f"user:{username}",
            reason=reason,
            now_us=now_us,
            data={"sessions_ended": int(ended or 0)},
        )


def deactivate_user(store: Store, *, username: str, actor: str, reason: str, now_us: int) -> None:
    """The account deactivated and its sessions ended (audited). UserError when there is
    no such account."""
    with store.engine.begin() as c:
        uid = _id(c, username)
        c.execute(update(T.users).where(_U.id == uid).values(active=False))
        ended = c.execute(delete(T.sessions).where(T.sessions.c.user_id == uid)).rowcount
        audit.append(
            c,
            actor=actor,
            action="user.deactivate",
            subject=f"user:{username}",
            reason=reason,
            now_us=now_us,
            data={"sessions_ended": int(ended or 0)},
        )


def _id(c: Connection, name: str) -> int:
    uid = c.execute(select(_U.id).where(_U.username == name)).scalar_one_or_none()
    if uid is None:
        raise UserError(t("user_unknown").format(username=name))
    return int(uid)


def open_session(
    store: Store,
    *,
    user_id: int,
    username: str,
    changes: dict[str, Any],
    digest: bytes,
    csrf: str,
    now_us: int,
    expires_us: int,
    data: dict[str, Any],
) -> None:
    """A successful login: the account's ``changes`` (the throttle forgotten, a rehash),
    expired sessions removed, the new session (its token's SHA-256 and CSRF token), and
    the ``login.success`` entry with ``data``."""
    with store.engine.begin() as c:
        c.execute(update(T.users).where(_U.id == user_id).values(**changes))
        c.execute(delete(T.sessions).where(_S.expires_us <= now_us))  # housekeeping
        c.execute(
            T.sessions.insert().values(
                token_sha256=digest, user_id=user_id, csrf=csrf, created_us=now_us, expires_us=expires_us
            )
        )
        audit.append(
            c,
            actor=username,
            action="login.success",
            subject=f"user:{username}",
            reason="login",
            now_us=now_us,
            data=data,
        )


def end_session(store: Store, *, digest: bytes) -> bool:
    """End the session whose token has this SHA-256; False when there was none."""
    with store.engine.begin() as c:
        return bool(c.execute(delete(T.sessions).where(_S.token_sha256 == digest)).rowcount)
