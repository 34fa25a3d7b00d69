"""The hash-chained audit log (审计日志): who did what, when, to what, and why.

Every entry links to the one before it, so an entry that is edited, deleted, inserted
or moved afterwards breaks the chain at that point, and :func:`verify` names it.

The recipe (re-verifiable offline from a plain export of the table, ordered by ``seq``)::

    content   = {"ts_us": <int>, "actor": <str>, "action": <str>, "subject": <str>,
                 "reason": <str>, "data": <the JSON object as stored>}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False, allow_nan=False).encode("utf-8")
    hash      = SHA-256(prev_hash || canonical)          # 32 raw bytes, || = concatenation
    prev_hash = the hash of the entry before (by seq); 32 zero bytes for the first entry

``seq`` is not hashed (PostgreSQL's identity leaves gaps after a rollback; the chain,
not the numbering, is the order). ``data`` is hashed as the database gives it back
(PostgreSQL's jsonb may rewrite a number such as 1e20 as 100000000000000000000), so
verification reproduces it exactly. Strings may not contain NUL (PostgreSQL refuses it).
Floats are written as Python's ``json`` writes them (``repr``: ``1e-07``, ``0.1``); for a
verifier in another language, keep measurements in ``data`` as integers or strings.

Concurrency: two writers must never both link to the same predecessor (a fork).
:func:`append` runs in the caller's transaction and, before it reads the predecessor,
holds the lock that serialises appends until that transaction ends:

* PostgreSQL: ``pg_advisory_xact_lock`` on a fixed key. The transaction must be READ
  COMMITTED (the default), so the read after the lock sees every entry committed before;
  under REPEATABLE READ or SERIALIZABLE the snapshot could predate the lock, so
  :func:`append` refuses to run.
* SQLite: the entry is inserted first (with a random placeholder hash). That insert
  takes SQLite's single write lock (the driver begins the transaction at the first
  write), so the predecessor is read afterwards inside the write transaction, where no
  other writer can commit; then the row gets its real ``prev_hash`` and ``hash``. (Had
  the transaction begun before an earlier read, WAL mode would refuse the insert with
  SQLITE_BUSY rather than let it write on a stale snapshot: an error to retry, never a fork.)

On both, each entry's ``seq`` is assigned while the lock is held, so ``seq`` order is
chain order, and the change that is audited commits (or rolls back) with its entry. The
unique ``hash`` column is a second guard against an identical duplicate.

What the chain alone cannot show: the newest entries removed from the end, or the whole
chain rewritten from some point on. Record :func:`head` somewhere else now and then (a
report, a regulator's e-mail) and pass it to :func:`verify` as ``anchor``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import Connection, select, text, update

from anxin.i18n import t
from anxin.store import schema as T
from anxin.store.database import Store

ZERO_HASH = bytes(32)
_PG_LOCK_KEY = 0x616E78696E_417564  # "anxin" "Aud": the advisory lock of the audit chain
_LIMITS = {"actor": 64, "action": 64, "subject": 200}
_L = T.audit_log.c
_CONTENT = (_L.ts_us, _L.actor, _L.action, _L.subject, _L.reason, _L.data)


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    ts_us: int
    actor: str
    action: str
    subject: str
    reason: str
    data: dict[str, Any]
    prev_hash: bytes
    hash: bytes


class AuditReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    entries: int  # entries in the log
    first_bad_seq: int | None = None
    problem: str | None = None


def canonical(*, ts_us: int, actor: str, action: str, subject: str, reason: str, data: Any) -> bytes:
    """The canonical bytes of an entry's content (see the module docstring)."""
    content = {"ts_us": ts_us, "actor": actor, "action": action, "subject": subject, "reason": reason, "data": data}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def entry_hash(prev_hash: bytes, content: bytes) -> bytes:
    return hashlib.sha256(prev_hash + content).digest()


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    data: Mapping[str, Any] | None = None,
    now_us: int,
) -> int:
    """Write one entry in the caller's transaction (``conn`` from ``store.engine.begin()``);
    returns its ``seq``. Raises ValueError on content the log cannot hold faithfully."""
    fields = {"actor": actor, "action": action, "subject": subject, "reason": reason}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ValueError(f"audit {name} must be a string")
        if name in _LIMITS and not 0 < len(value) <= _LIMITS[name]:
            raise ValueError(f"audit {name} must be 1–{_LIMITS[name]} characters")
        _check_json(value, name)
    if type(now_us) is not int:
        raise ValueError("audit now_us must be an int (µs since the epoch)")
    data = dict(data or {})
    _check_json(data, "data")
    if conn.dialect.name == "postgresql":
        isolation = conn.execute(
            text("SELECT current_setting('transaction_isolation') FROM (SELECT pg_advisory_xact_lock(:k)) AS l"),
            {"k": _PG_LOCK_KEY},
        ).scalar_one()
        if isolation != "read committed":
            raise RuntimeError(f"audit.append needs a READ COMMITTED transaction, not {isolation}")
    row = conn.execute(
        T.audit_log.insert()
        .values(ts_us=now_us, **fields, data=data, prev_hash=ZERO_HASH, hash=secrets.token_bytes(32))
        .returning(_L.seq, *_CONTENT)
    ).one()
    seq = int(row.seq)
    prev = conn.execute(select(_L.hash).where(_L.seq < seq).order_by(_L.seq.desc()).limit(1)).scalar_one_or_none()
    prev_hash = bytes(prev) if prev is not None else ZERO_HASH
    digest = entry_hash(prev_hash, _canonical_row(row))
    conn.execute(update(T.audit_log).where(_L.seq == seq).values(prev_hash=prev_hash, hash=digest))
    return seq


def record(
    store: Store,
    *,
    actor: str,
    action: str,
    subject: str,
    reason: str,
    data: Mapping[str, Any] | None = None,
    now_us: int,
) -> int:
    """One entry in a transaction of its own, for an event that changes nothing else
    (a login, a download, an import done through the ingest path)."""
    with store.engine.begin() as conn:
        return append(conn, actor=actor, action=action, subject=subject, reason=reason, data=data, now_us=now_us)


def verify(store: Store, *, anchor: tuple[int, bytes] | None = None, batch: int = 2000) -> AuditReport:
    """Recompute the chain from the first entry; the first entry that does not fit is named.
    ``anchor`` = a (seq, hash) recorded earlier by :func:`head`: it must still be there."""
    expected_prev, prev_seq, count = ZERO_HASH, None, 0
    bad: tuple[int, str] | None = None
    anchor_seen = anchor is None
    last = -(2**62)
    while True:
        with store.engine.connect() as c:
            rows = c.execute(
                select(_L.seq, *_CONTENT, _L.prev_hash, _L.hash).where(_L.seq > last).order_by(_L.seq).limit(batch)
            ).all()
        if not rows:
            break
        for row in rows:
            count += 1
            if bad is not None:
                continue
            seq, stored_prev, stored = int(row.seq), bytes(row.prev_hash), bytes(row.hash)
            if stored_prev != expected_prev:
                after = t("audit_start") if prev_seq is None else t("audit_entry").format(seq=prev_seq)
                bad = (seq, t("audit_unlinked").format(seq=seq, after=after))
            else:
                try:
                    recomputed = entry_hash(stored_prev, _canonical_row(row))
                except ValueError:
                    recomputed = b""
                if recomputed != stored:
                    bad = (seq, t("audit_changed").format(seq=seq))
            if bad is None and anchor is not None and seq == anchor[0]:
                if stored != anchor[1]:
                    bad = (seq, t("audit_anchor_changed").format(seq=seq))
                anchor_seen = True
            expected_prev, prev_seq = stored, seq
        last = int(rows[-1].seq)
    if bad is None and not anchor_seen:
        assert anchor is not None
        bad = (anchor[0], t("audit_anchor_gone").format(seq=anchor[0]))
    if bad is not None:
        return AuditReport(ok=False, entries=count, first_bad_seq=bad[0], problem=bad[1])
    return AuditReport(ok=True, entries=count)


def head(store: Store) -> tuple[int, bytes] | None:
    """(seq, hash) of the newest entry: what to record elsewhere as an anchor."""
    with store.engine.connect() as c:
        row = c.execute(select(_L.seq, _L.hash).order_by(_L.seq.desc()).limit(1)).first()
    return (int(row[0]), bytes(row[1])) if row else None


def entries(
    store: Store,
    *,
    subject: str | None = None,
    actor: str | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[AuditEntry]:
    """Newest first; page on with ``before_seq`` = the last ``seq`` of the previous page."""
    q = select(T.audit_log).order_by(_L.seq.desc()).limit(max(1, min(limit, 1000)))
    if subject is not None:
        q = q.where(_L.subject == subject)
    if actor is not None:
        q = q.where(_L.actor == actor)
    if before_seq is not None:
        q = q.where(_L.seq < before_seq)
    with store.engine.connect() as c:
        rows = c.execute(q).all()
    return [
        AuditEntry(
            seq=int(r.seq),
            ts_us=int(r.ts_us),
            actor=r.actor,
            action=r.action,
            subject=r.subject,
            reason=r.reason,
            data=r.data,
            prev_hash=bytes(r.prev_hash),
            hash=bytes(r.hash),
        )
        for r in rows
    ]


def _canonical_row(row: Any) -> bytes:
    return canonical(
        ts_us=int(row.ts_us), actor=row.actor, action=row.action, subject=row.subject, reason=row.reason, data=row.data
    )


def _check_json(value: Any, where: str, depth: int = 0) -> None:
    """Only what JSON holds and both databases give back unchanged: str keys, no NUL, no
    lone surrogates, finite floats, bounded nesting."""
    if depth > 32:
        raise ValueError(f"audit {where}: nested too deeply")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"audit {where}: NUL characters are not allowed")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"audit {where}: not valid Unicode text") from exc
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"audit {where}: object keys must be strings")
            _check_json(k, where, depth + 1)
            _check_json(v, where, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_json(v, where, depth + 1)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"audit {where}: NaN and infinity are not JSON")
    elif value is not None and not isinstance(value, bool | int):
        raise ValueError(f"audit {where}: {type(value).__name__} is not JSON")
