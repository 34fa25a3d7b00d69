"""Login, sessions and CSRF (登录与会话). The clock is always an argument (µs).

* No lockout: failures slow down further attempts (:mod:`anxin.auth.throttle`: per
  account and per address, or per device for a browser the account used before), so a
  guesser cannot lock anyone out, and the owner at their usual place gets in.
* Every refusal — an unknown username, a wrong password, a deactivated account, an
  attempt while throttled — gets the same answer (用户名或密码错误，或尝试过于频繁) after
  the same work: one argon2 verification (against a dummy hash when there is no account
  or the attempt is throttled).
* The audit log: ``login.success`` for each success; failures as one ``login.failure``
  entry per account name and 15-minute window with their count, reasons (``password``,
  ``unknown_user``, ``inactive``, ``throttled``) and addresses; the actor is the
  username, or ``anonymous`` for a name with no account; never the password.
* A session is a random token (``secrets.token_urlsafe(32)``) for the cookie; the store
  keeps only its SHA-256, with a CSRF token for the session's forms. It lasts 12 hours
  from login (not sliding), until logout, a password change or deactivation.

The decisions are here; reading the account and the session is :mod:`anxin.auth.queries`',
writing them :mod:`anxin.auth.service`'s.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import msgspec

from anxin.auth import queries, service
from anxin.auth import throttle as Th
from anxin.auth.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from anxin.auth.queries import to_user
from anxin.auth.roles import User
from anxin.auth.users import _USERNAME, normalise_username
from anxin.contract.times import US_PER_H
from anxin.i18n import t
from anxin.store.database import Store

SESSION_US = 12 * US_PER_H
ANONYMOUS = "anonymous"


class LoginOk(msgspec.Struct, frozen=True, kw_only=True):
    user: User
    token: str  # for the session cookie (HttpOnly, Secure, SameSite=Lax); shown nowhere else
    csrf: str  # to put in the session's forms
    expires_us: int
    device: str = ""  # the device cookie for this browser (the throttle trusts it for this account)


class LoginRefused(msgspec.Struct, frozen=True, kw_only=True):
    reason: str  # for the person, in the CLI's language; the same for every refusal
    code: str = "bad_credentials"  # the only one: the answer never tells why


def login(
    store: Store,
    username: str,
    password: str,
    *,
    now_us: int,
    address: str | None = None,
    device: str | None = None,
) -> LoginOk | LoginRefused:
    """Check a login attempt from ``address`` (the client's address) with the browser's
    device cookie ``device``, if any."""
    Th.flush_failures(store, now_us=now_us)  # the audit windows that have ended
    name = normalise_username(username)
    valid = bool(_USERNAME.fullmatch(name))  # anything else cannot be an account (nor even storable text)
    shown = name if valid else _printable(name)
    row = queries.account(store, name) if valid else None
    trusted = Th.device_of(store, shown, device)
    keys = Th.buckets(shown, address=address, device=trusted)
    actor = name if row is not None else ANONYMOUS

    def refuse(why: str) -> LoginRefused:
        if why != "throttled":
            Th.failed(store, keys, now_us=now_us)
        Th.note_failure(store, shown, actor=actor, why=why, address=address, now_us=now_us)
        return LoginRefused(reason=t("login_bad"))

    if Th.throttled(store, keys, now_us=now_us):
        verify_password(dummy_hash(), password)  # the same work as any other attempt
        return refuse("throttled")
    if row is None:
        verify_password(dummy_hash(), password)  # the same work as for a real account
        return refuse("unknown_user")
    ok = verify_password(row.password_hash, password)
    if not row.active:
        return refuse("inactive")
    if not ok:
        return refuse("password")
    Th.succeeded(store, keys)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    digest = _digest(token)
    rehash = needs_rehash(row.password_hash)
    changes: dict[str, int | str] = {"failed_logins": 0, "locked_until_us": 0}
    if rehash:
        changes["password_hash"] = hash_password(password)
    service.open_session(
        store,
        user_id=row.id,
        username=name,
        changes=changes,
        digest=digest,
        csrf=csrf,
        now_us=now_us,
        expires_us=now_us + SESSION_US,
        data={"session": digest[:6].hex(), "rehashed": rehash, "address": address, "known_device": bool(trusted)},
    )
    return LoginOk(
        user=to_user(row),
        token=token,
        csrf=csrf,
        expires_us=now_us + SESSION_US,
        device=Th.new_device(store, name),
    )


def session_user(store: Store, token: str | None, *, now_us: int) -> tuple[User, str] | None:
    """(user, csrf) of a live session, or None (no such session, expired, user deactivated)."""
    if not token or not isinstance(token, str) or len(token) > 256:
        return None
    row = queries.live_session(store, _digest(token), now_us=now_us)
    return (to_user(row), row.csrf) if row is not None else None


def logout(store: Store, token: str | None) -> bool:
    """End the session; False when there was none."""
    if not token or not isinstance(token, str) or len(token) > 256:
        return False
    return service.end_session(store, digest=_digest(token))


def check_csrf(session_csrf: str | None, submitted: str | None) -> bool:
    """Constant-time comparison of a form's CSRF token with the session's."""
    if not session_csrf or not submitted or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(session_csrf.encode("utf-8", "replace"), submitted.encode("utf-8", "replace"))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def _printable(text: str) -> str:
    """An attempted username as storable text: control characters and invalid text → '?'."""
    clean = "".join(ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else "?" for ch in text)
    return clean[:64] or "?"
