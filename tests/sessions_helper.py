"""A console session for a test, without the login form: a user row and a session row
written straight to the tables (the login form's own rules are tests/test_auth.py's)."""

from __future__ import annotations

import hashlib
import secrets
import time

from fastapi.testclient import TestClient

from anxin.store import schema as T
from anxin.store.database import Store

COOKIE = "anxin_session"


def signed_in(c: TestClient, store: Store, username: str, role: str, stations: tuple[str, ...] = ()) -> str:
    """Sign ``c`` in as a new ``role`` user (an operator of ``stations``); returns the
    session's CSRF token for forms."""
    now = time.time_ns() // 1000
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    with store.engine.begin() as conn:
        uid = conn.execute(
            T.users.insert()
            .values(
                username=username,
                display_name=username,
                role=role,
                stations=sorted(stations),
                district=None,
                password_hash="$argon2id$not-used",
                failed_logins=0,
                locked_until_us=0,
                active=True,
                created_us=now,
            )
            .returning(T.users.c.id)
        ).scalar_one()
        conn.execute(
            T.sessions.insert().values(
                token_sha256=hashlib.sha256(token.encode()).digest(),
                user_id=uid,
                csrf=csrf,
                created_us=now,
                expires_us=now + 3_600_000_000,
            )
        )
    c.cookies.set(COOKIE, token)
    return csrf
