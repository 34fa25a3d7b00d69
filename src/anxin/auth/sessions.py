"""Login, lockout, sessions and CSRF (登录与会话). The clock is always an argument (µs).

* 5 consecutive wrong passwords lock an account for 15 minutes (per user, counted in the
  database so every worker process sees it); an attempt while locked is refused without
  checking the password and says until when. A successful login resets the count.
* An unknown username is checked against a dummy hash, so it takes as long as a known
  one, and gets the same answer as a wrong password (用户名或密码错误); so does a
  deactivated account.
* Every attempt is in the audit log: ``login.success``, ``login.failure`` (data.why =
  ``password`` | ``unknown_user`` | ``inactive`` | ``locked``), ``login.lockout``. The actor
  is the username, or ``anonymous`` for a name with no account; never the password.
* A session is a random token (``secrets.token_urlsafe(32)``) for the cookie; the store
  keeps only its SHA-256, with a CSRF token for the session's forms. It lasts 12 hours
  from login (not sliding), until logout, a password change or deactivation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import msgspec
from sqlalchemy import delete, select, update

from anxin import audit
from anxin.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from anxin.auth.roles import User
from anxin.auth.users import _USERNAME, normalise_username, to_user
from anxin.contract.times import US_PER_H, US_PER_MIN, format_ts
from anxin.i18n import t
from anxin.store import schema as T
from anxin.store.database import Store

MAX_FAILURES = 5
LOCK_US = 15 * US_PER_MIN
SESSION_US = 12 * US_PER_H
ANONYMOUS = "anonymous"
_U, _S = T.users.c, T.sessions.c


class LoginOk(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    token: str  # for the session cookie (HttpOnly, Secure, SameSite=Lax); shown nowhere else
    csrf: str  # to put in the session's forms
    expires_us: int


class LoginRefused(msgspec.Struct, frozen=True, kw_only=True):
    reason: str  # for the person, in the console language (用户名或密码错误 / locked until …)
    code: str  # "bad_credentials" | "locked"
    locked_until_us: int | None = None


def login(store: Store, username: str, password: str, *, now_us: int) -> LoginOk | LoginRefused:
    name = normalise_username(username)
    row = None
    if _USERNAME.fullmatch(name):  # anything else cannot be an account (and may not even be storable text)
        with store.engine.connect() as c:
            row = c.execute(select(T.users).where(_U.username == name)).first()
    if row is None:
        verify_password(dummy_hash(), password)  # the same work as for a real account
        shown = name if _USERNAME.fullmatch(name) else _printable(name)
        _audit(store, ANONYMOUS, "login.failure", f"user:{shown}", now_us, why="unknown_user", username=shown)
        return _bad_credentials()
    if row.locked_until_us > now_us:
        _audit(store, name, "login.failure", f"user:{name}", now_us, why="locked", locked_until_us=row.locked_until_us)
        return _locked(row.locked_until_us)
    ok = verify_password(row.password_hash, password)
    if not row.active:
        _audit(store, name, "login.failure", f"user:{name}", now_us, why="inactive")
        return _bad_credentials()
    if not ok:
        return _failed(store, row, now_us)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    digest = _digest(token)
    rehash = needs_rehash(row.password_hash)
    changes: dict[str, int | str] = {"failed_logins": 0, "locked_until_us": 0}
    if rehash:
        changes["password_hash"] = hash_password(password)
    with store.engine.begin() as c:
        c.execute(update(T.users).where(_U.id == row.id).values(**changes))
        c.execute(delete(T.sessions).where(_S.expires_us <= now_us))  # housekeeping
        c.execute(
            T.sessions.insert().values(
                token_sha256=digest, user_id=row.id, csrf=csrf, created_us=now_us, expires_us=now_us + SESSION_US
            )
        )
        audit.append(
            c,
            actor=name,
            action="login.success",
            subject=f"user:{name}",
            reason="login",
            now_us=now_us,
            data={"session": digest[:6].hex(), "rehashed": rehash},
        )
    return LoginOk(user=to_user(row), token=token, csrf=csrf, expires_us=now_us + SESSION_US)


def session_user(store: Store, token: str | None, *, now_us: int) -> tuple[User, str] | None:
    """(user, csrf) of a live session, or None (no such session, expired, user deactivated)."""
    if not token or not isinstance(token, str) or len(token) > 256:
        return None
    with store.engine.connect() as c:
        row = c.execute(
            select(T.users, _S.csrf)
            .join(T.sessions, _S.user_id == _U.id)
            .where(_S.token_sha256 == _digest(token), _S.expires_us > now_us, _U.active.is_(True))
        ).first()
    return (to_user(row), row.csrf) if row is not None else None


def logout(store: Store, token: str | None) -> bool:
    """End the session; False when there was none."""
    if not token or not isinstance(token, str) or len(token) > 256:
        return False
    with store.engine.begin() as c:
        return bool(c.execute(delete(T.sessions).where(_S.token_sha256 == _digest(token))).rowcount)


def check_csrf(session_csrf: str | None, submitted: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    if not session_csrf or not submitted or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(session_csrf.encode("utf-8", "replace"), submitted.encode("utf-8", "replace"))


def _failed(store: Store, row, now_us: int) -> LoginRefused:
    name = row.username
    with store.engine.begin() as c:
        failures = int(
            c.execute(
                update(T.users)
                .where(_U.id == row.id)
                .values(failed_logins=_U.failed_logins + 1)
                .returning(_U.failed_logins)
            ).scalar_one()
        )
        if failures < MAX_FAILURES:
            audit.append(
                c,
                actor=name,
                action="login.failure",
                subject=f"user:{name}",
                reason="login",
                now_us=now_us,
                data={"why": "password", "failures": failures},
            )
            return _bad_credentials()
        until = now_us + LOCK_US
        c.execute(update(T.users).where(_U.id == row.id).values(failed_logins=0, locked_until_us=until))
        audit.append(
            c,
            actor=name,
            action="login.lockout",
            subject=f"user:{name}",
            reason="login",
            now_us=now_us,
            data={"why": "password", "failures": failures, "locked_until_us": until},
        )
    return _locked(until)


def _audit(store: Store, actor: str, action: str, subject: str, now_us: int, **data) -> None:
    audit.record(store, actor=actor, action=action, subject=subject[:200], reason="login", data=data, now_us=now_us)


def _bad_credentials() -> LoginRefused:
    return LoginRefused(reason=t("login_bad"), code="bad_credentials")


def _locked(until_us: int) -> LoginRefused:
    ts = format_ts(until_us)  # local time (UTC+08:00)
    return LoginRefused(
        reason=t("login_locked").format(until=f"{ts[:10]} {ts[11:19]}"), code="locked", locked_until_us=until_us
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def _printable(text: str) -> str:
    """An attempted username as storable text: control characters and invalid text → '?'."""
    clean = "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in text)
    return clean[:64] or "?"
