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

This module is the chain itself — the content, its canonical bytes, the link, what an
entry may hold, and the walk that checks a chain; the statements are in
:mod:`anxin.audit.service` (:func:`append`, :func:`record`) and :mod:`anxin.audit.queries`
(:func:`verify`, :func:`head`, :func:`entries`), re-exported here under their old names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from anxin.i18n import t

ZERO_HASH = bytes(32)
_LIMITS = {"actor": 64, "action": 64, "subject": 200}


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


def canonical_row(row: Any) -> bytes:
    """The canonical bytes of a stored entry (a row with the content's columns)."""
    return canonical(
        ts_us=int(row.ts_us), actor=row.actor, action=row.action, subject=row.subject, reason=row.reason, data=row.data
    )


def checked_content(
    *, actor: str, action: str, subject: str, reason: str, data: Mapping[str, Any] | None, now_us: int
) -> tuple[dict[str, str], dict[str, Any]]:
    """(the text fields, ``data`` as a dict) of a new entry; ValueError on content the log
    cannot hold faithfully."""
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
    return fields, data


def verify_rows(batches: Iterable[list[Any]], *, anchor: tuple[int, bytes] | None = None) -> AuditReport:
    """Recompute the chain over its stored entries, given in ``seq`` order in batches
    (rows with ``seq``, the content's columns, ``prev_hash`` and ``hash``); the first entry
    that does not fit is named. ``anchor`` = a (seq, hash) recorded earlier: it must
    still be there."""
    expected_prev, prev_seq, count = ZERO_HASH, None, 0
    bad: tuple[int, str] | None = None
    anchor_seen = anchor is None
    for rows in batches:
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
                    recomputed = entry_hash(stored_prev, canonical_row(row))
                except ValueError:
                    recomputed = b""
                if recomputed != stored:
                    bad = (seq, t("audit_changed").format(seq=seq))
            if bad is None and anchor is not None and seq == anchor[0]:
                if stored != anchor[1]:
                    bad = (seq, t("audit_anchor_changed").format(seq=seq))
                anchor_seen = True
            expected_prev, prev_seq = stored, seq
    if bad is None and not anchor_seen:
        assert anchor is not None
        bad = (anchor[0], t("audit_anchor_gone").format(seq=anchor[0]))
    if bad is not None:
        return AuditReport(ok=False, entries=count, first_bad_seq=bad[0], problem=bad[1])
    return AuditReport(ok=True, entries=count)


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


# The statements, under their old names here (they use the chain above: imported last).
from anxin.audit.queries import entries as entries  # noqa: E402
from anxin.audit.queries import head as head  # noqa: E402
from anxin.audit.queries import verify as verify  # noqa: E402
from anxin.audit.service import append as append  # noqa: E402
from anxin.audit.service import record as record  # noqa: E402
