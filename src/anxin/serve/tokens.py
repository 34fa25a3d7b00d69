"""API tokens (接口令牌) of the stations and of the verification institutes, stored as
SHA-256 only. The same functions serve the admin API and the command line
(``anxin token S0001``, ``anxin token --institute I01``).

A token is looked up in the database on every upload and MQTT message (one indexed
query): nothing is cached in a process, so a token reissued by any process — the CLI
against the service's database, another worker, the admin API — is refused
everywhere at once, and the new one accepted at once.

Tokens are made and hashed here; storing and looking them up is :mod:`anxin.serve.service`'s
and :mod:`anxin.serve.queries`' (``revoke_institute_token``, ``institutes`` and
``institute_names`` are re-exported here under their old names).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Protocol

from anxin.ingest.principals import Principal
from anxin.serve import queries, service
from anxin.serve.queries import institute_names, institutes
from anxin.serve.service import revoke_institute_token
from anxin.store.database import Store, now_us


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def issue_station_token(store: Store, station_id: str, *, actor: str = "admin") -> str:
    """A new token for ``station_id``; the one before stops working at once. Audited."""
    return _issue(store, "station", station_id, {}, actor=actor)


def issue_institute_token(store: Store, institute_id: str, name: str, *, actor: str = "admin") -> str:
    """A new token for the verification institute ``institute_id`` (its display
    ``name`` kept with it); the one before stops working at once. Audited."""
    return _issue(store, "institute", institute_id, {"name": name}, actor=actor)


def _issue(store: Store, kind: service.Kind, ident: str, extra: dict[str, str], *, actor: str) -> str:
    token, when = new_token(), now_us()
    service.save_token(store, kind=kind, ident=ident, digest=_digest(token), extra=extra, actor=actor, now_us=when)
    return token


def principal_of(store: Store, token: str) -> Principal | None:
    """Whose token this is (a station or an institute), read from the database now;
    None for an unknown token."""
    return queries.principal_of_digest(store, _digest(token))


__all__ = [
    "institute_names",
    "institutes",
    "issue_institute_token",
    "issue_station_token",
    "principal_of",
    "revoke_institute_token",
]


class HasStore(Protocol):
    store: Store


class TokenIndex:
    """The API tokens of stations and institutes of a process's store (``anxin serve``'s
    ingest service, a scale-out receiver), read through to it on every use: a token
    reissued by any process — ``anxin token`` in another shell, the admin API — is
    refused at once, the new one accepted at once."""

    def __init__(self, holder: HasStore) -> None:
        self.holder = holder

    def principal(self, token: str) -> Principal | None:
        return principal_of(self.holder.store, token)

    def station(self, token: str) -> str | None:
        """The station a token belongs to (None: unknown, or an institute's)."""
        p = self.principal(token)
        return p.id if p is not None and p.role == "station" else None

    def issue(self, station_id: str) -> str:
        return issue_station_token(self.holder.store, station_id)

    def issue_institute(self, institute_id: str, name: str) -> str:
        return issue_institute_token(self.holder.store, institute_id, name)
