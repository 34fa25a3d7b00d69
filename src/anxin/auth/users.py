"""Accounts (用户): create, change password, deactivate — each written to the audit log in
the same transaction as the change. Usernames are lower-case ASCII (``zhang.wei``); the
display name carries the person's name (张伟).

What an account may be is checked here; the statements are :mod:`anxin.auth.service`'s
(writing) and :mod:`anxin.auth.queries`' (reading: :func:`list_users`,
:func:`active_staff`, :func:`to_user` are re-exported here under their old names)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from anxin.auth import service
from anxin.auth.passwords import UserError, check_password_rules, hash_password
from anxin.auth.queries import account, active_staff, list_users, to_user
from anxin.auth.roles import OPERATOR, ROLES, User
from anxin.i18n import t
from anxin.store.database import Store

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")

__all__ = [
    "UserError",
    "active_staff",
    "checked_account",
    "create_user",
    "deactivate",
    "get_user",
    "list_users",
    "normalise_username",
    "set_password",
    "to_user",
]


def normalise_username(username: str) -> str:
    return username.strip().lower() if isinstance(username, str) else ""


def checked_account(
    *, username: str, display_name: str, role: str, stations: Iterable[str], district: str | None
) -> tuple[str, str, list[str], str | None]:
    """(username, display name, stations, district) of a new account, normalised;
    UserError naming what is wrong."""
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
    return name, display_name, station_list, district


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
    name, display_name, station_list, district = checked_account(
        username=username, display_name=display_name, role=role, stations=stations, district=district
    )
    check_password_rules(password, username=name)
    return service.insert_user(
        store,
        username=name,
        display_name=display_name,
        role=role,
        stations=station_list,
        district=district,
        password_hash=hash_password(password),
        actor=actor,
        reason=reason,
        now_us=now_us,
    )


def set_password(store: Store, *, username: str, password: str, actor: str, reason: str, now_us: int) -> None:
    """Set a new password; forgets the account's failed logins (the throttle) and ends
    the user's sessions (audited)."""
    name = normalise_username(username)
    check_password_rules(password, username=name)
    service.replace_password(
        store, username=name, password_hash=hash_password(password), actor=actor, reason=reason, now_us=now_us
    )
    from anxin.auth.throttle import lift  # (auth.throttle imports the audit log, not the accounts)

    lift(store, name)


def deactivate(store: Store, *, username: str, actor: str, reason: str, now_us: int) -> None:
    """The account can no longer log in and its sessions end (audited; the row stays, as
    the audit log and work orders name it)."""
    service.deactivate_user(store, username=normalise_username(username), actor=actor, reason=reason, now_us=now_us)


def get_user(store: Store, username: str) -> User | None:
    row = account(store, normalise_username(username))
    return to_user(row) if row is not None else None
