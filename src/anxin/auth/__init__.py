"""用户与权限 (users and permissions) of the regulator console: roles and the permission
matrix (:mod:`anxin.auth.roles`), argon2id passwords and their rules, accounts, login
with its throttle (:mod:`anxin.auth.throttle`: delays, no lockout), sessions and CSRF.
Every change and every login attempt is in the audit log (failures by window).

SQL only in :mod:`~anxin.auth.queries` (reading accounts and sessions) and
:mod:`~anxin.auth.service` (writing them, each change with its audit entry); the rules
and decisions stay in :mod:`~anxin.auth.users` and :mod:`~anxin.auth.sessions`, which
call them (the throttle's counters are :mod:`anxin.store.throttle`'s)."""

from anxin.auth.passwords import (
    MIN_LENGTH,
    AuthError,
    PasswordRejected,
    check_password_rules,
    hash_password,
    needs_rehash,
    verify_password,
)
from anxin.auth.roles import (
    ADMIN,
    INSPECTOR,
    OPERATOR,
    PERMISSIONS,
    PUBLIC,
    REGULATOR,
    ROLE_NAMES_EN,
    ROLE_NAMES_ZH,
    ROLE_PERMISSIONS,
    ROLES,
    User,
    can,
    station_scope,
)
from anxin.auth.sessions import (
    SESSION_US,
    LoginOk,
    LoginRefused,
    check_csrf,
    login,
    logout,
    session_user,
)
from anxin.auth.throttle import flush_failures
from anxin.auth.users import UserError, create_user, deactivate, get_user, list_users, set_password

__all__ = [
    "ADMIN",
    "INSPECTOR",
    "MIN_LENGTH",
    "OPERATOR",
    "PERMISSIONS",
    "PUBLIC",
    "REGULATOR",
    "ROLES",
    "ROLE_NAMES_EN",
    "ROLE_NAMES_ZH",
    "ROLE_PERMISSIONS",
    "SESSION_US",
    "AuthError",
    "LoginOk",
    "LoginRefused",
    "PasswordRejected",
    "User",
    "UserError",
    "can",
    "check_csrf",
    "check_password_rules",
    "create_user",
    "deactivate",
    "flush_failures",
    "get_user",
    "hash_password",
    "list_users",
    "login",
    "logout",
    "needs_rehash",
    "session_user",
    "set_password",
    "station_scope",
    "verify_password",
]
