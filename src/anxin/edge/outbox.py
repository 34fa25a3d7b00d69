"""The edge agent's outbox (发件箱): one local SQLite database (WAL) holding every line
read but not yet confirmed by the platform, in read order, beside the read offset of
each source file, the lines the platform refused (for the station operator) and the
agent's counters.

Every change is one transaction: a chunk of lines goes in together with the file
offset after it (a crash neither loses nor repeats a line locally); a confirmed batch
leaves together with its refused lines and the counters. The outbox table is a rowid
table (``INTEGER PRIMARY KEY``): appends go to its end, uploads take from its head,
so what waits is always one contiguous run of ids, in read order.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY,   -- rowid: the read order
    source  TEXT    NOT NULL,      -- file path, or mqtt:<topic>
    line    INTEGER NOT NULL,      -- line number in the source (MQTT: in its message)
    read_us INTEGER NOT NULL,      -- when it was read (µs since the epoch)
    body    BLOB    NOT NULL       -- the line, without its "\\n"
);
CREATE TABLE IF NOT EXISTS offsets (
    path    TEXT PRIMARY KEY,
    dev     INTEGER NOT NULL,
    ino     INTEGER NOT NULL,
    pos     INTEGER NOT NULL,      -- bytes consumed: always just after a "\\n"
    lines   INTEGER NOT NULL,      -- lines consumed
    head    BLOB    NOT NULL,      -- the file's first bytes (≤ 256): notices a reused inode
    updated_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id      INTEGER PRIMARY KEY,
    status  TEXT    NOT NULL,      -- rejected | quarantined (the platform's word) | too_large (never sent)
    reason  TEXT    NOT NULL,
    kind    TEXT,
    key     TEXT,
    source  TEXT    NOT NULL,
    line    INTEGER NOT NULL,
    read_us INTEGER NOT NULL,
    decided_us INTEGER NOT NULL,
    body    BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    name    TEXT PRIMARY KEY,      -- counters and the last upload / last error
    value
);
CREATE TABLE IF NOT EXISTS seen (
    key     TEXT PRIMARY KEY,      -- a record a device adapter already queued (its natural key)
    t_us    INTEGER NOT NULL       -- the record's event time: old keys are forgotten
);
"""
COUNTERS = ("read", "confirmed", "accepted", "duplicate", "rejected", "quarantined", "too_large", "uploads")


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class Offset:
    dev: int
    ino: int
    pos: int
    lines: int
    head: bytes = b""


@dataclass(frozen=True, slots=True)
class Pending:
    id: int
    source: str
    line: int
    read_us: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    """A line set aside in the ``rejected`` table, with why."""

    pending: Pending
    status: str
    reason: str
    kind: str | None = None
    key: str | None = None


class OutboxError(Exception):
    """The path is not an edge outbox (or cannot be opened)."""


class Outbox:
    """One connection (thread-safe through a lock); each thread of the agent may also
    open its own ``Outbox`` on the same path — SQLite serialises the writers."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise OutboxError(f"no outbox database at {self.path}")
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 60000")
            if create:
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = FULL")  # an MQTT message is acknowledged after commit
                self.db.executescript(SCHEMA)  # idempotent
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            else:  # `anxin edge status`: looks, never writes
                self.db.execute("PRAGMA query_only = ON")
                if self.db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    raise OutboxError(f"{self.path} is not an edge outbox (schema version differs)")
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"cannot open the outbox {self.path}: {exc}") from None
        self.lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ transactions
    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")

    def _tx(self) -> Outbox._Tx:
        return Outbox._Tx(self.db)

    def _bump(self, c: sqlite3.Connection, counts: dict[str, int]) -> None:
        c.executemany(
            "INSERT INTO state(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            [(k, v) for k, v in counts.items() if v],
        )

    def _set(self, c: sqlite3.Connection, values: dict[str, Any]) -> None:
        c.executemany(
            "INSERT INTO state(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    # ------------------------------------------------------------ reading side
    def append(
        self,
        source: str,
        lines: Sequence[tuple[int, bytes]],
        offset: Offset | None = None,
        aside: Iterable[tuple[int, bytes, str]] = (),
    ) -> None:
        """Lines (number, body) of ``source`` in read order, the source file's offset
        after them, and lines set aside unread (number, body, reason) — all or nothing."""
        t = now_us()
        with self.lock, self._tx() as c:
            c.executemany(
                "INSERT INTO outbox(source, line, read_us, body) VALUES (?, ?, ?, ?)",
                [(source, n, t, body) for n, body in lines],
            )
            aside = list(aside)
            if aside:
                c.executemany(
                    "INSERT INTO rejected(status, reason, source, line, read_us, decided_us, body)"
                    " VALUES ('too_large', ?, ?, ?, ?, ?, ?)",
                    [(reason, source, n, t, t, body) for n, body, reason in aside],
                )
            if offset is not None:
                c.execute(
                    "INSERT INTO offsets(path, dev, ino, pos, lines, head, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino, pos = excluded.pos,"
                    " lines = excluded.lines, head = excluded.head, updated_us = excluded.updated_us",
                    (source, offset.dev, offset.ino, offset.pos, offset.lines, offset.head, t),
                )
            self._bump(c, {"read": len(lines), "too_large": len(aside)})

    def append_new(self, source: str, items: Sequence[tuple[str, int, bytes]]) -> int:
        """Lines a device adapter made (a tank gauge's records): (natural key, event time
        in µs, body). Only those whose key was never queued go in, numbered on from the
        source's last line, with their keys — all or nothing. How many went in."""
        if not items:
            return 0
        t = now_us()
        with self.lock, self._tx() as c:
            fresh, keys = [], set()
            for key, t_us, body in items:
                if key in keys or c.execute("SELECT 1 FROM seen WHERE key = ?", (key,)).fetchone():
                    continue
                keys.add(key)
                fresh.append((key, t_us, body))
            if not fresh:
                return 0
            counter = f"lines:{source}"
            row = c.execute("SELECT value FROM state WHERE name = ?", (counter,)).fetchone()
            first = int(row[0]) + 1 if row else 1
            c.executemany(
                "INSERT INTO outbox(source, line, read_us, body) VALUES (?, ?, ?, ?)",
                [(source, first + i, t, body) for i, (_, _, body) in enumerate(fresh)],
            )
            c.executemany("INSERT INTO seen(key, t_us) VALUES (?, ?)", [(k, tu) for k, tu, _ in fresh])
            self._set(c, {counter: first + len(fresh) - 1})
            self._bump(c, {"read": len(fresh)})
        return len(fresh)

    def forget_seen(self, *, before_us: int, prefix: str) -> int:
        """Forget the queued keys starting with ``prefix`` whose event time is before
        ``before_us`` (a gauge's readings: it never answers with an old one again)."""
        with self.lock, self._tx() as c:
            cur = c.execute(
                "DELETE FROM seen WHERE t_us < ? AND substr(key, 1, ?) = ?", (before_us, len(prefix), prefix)
            )
            return cur.rowcount

    def offsets(self) -> dict[str, Offset]:
        with self.lock:
            rows = self.db.execute("SELECT path, dev, ino, pos, lines, head FROM offsets").fetchall()
        return {p: Offset(d, i, pos, n, bytes(h)) for p, d, i, pos, n, h in rows}

    # ------------------------------------------------------------ upload side
    def peek(self, limit: int) -> list[Pending]:
        """The oldest ``limit`` lines waiting, in read order."""
        with self.lock:
            rows = self.db.execute(
                "SELECT id, source, line, read_us, body FROM outbox ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [Pending(i, s, n, r, bytes(b)) for i, s, n, r, b in rows]

    def backlog(self) -> int:
        """Lines waiting (read − confirmed − set aside at upload: both counters move with the rows)."""
        with self.lock:
            st = dict(self.db.execute("SELECT name, value FROM state WHERE name IN ('read', 'confirmed')").fetchall())
        return int(st.get("read", 0)) - int(st.get("confirmed", 0))

    def confirm(self, batch: Sequence[Pending], refused: Sequence[Refusal], counts: dict[str, int]) -> None:
        """The platform's final answer on ``batch`` (a head of the outbox): it leaves the
        outbox; refused lines go to ``rejected``; counters move — in one transaction."""
        if not batch:
            return
        t = now_us()
        with self.lock, self._tx() as c:
            c.execute("DELETE FROM outbox WHERE id BETWEEN ? AND ?", (batch[0].id, batch[-1].id))
            c.executemany(
                "INSERT INTO rejected(status, reason, kind, key, source, line, read_us, decided_us, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.status,
                        r.reason,
                        r.kind,
                        r.key,
                        r.pending.source,
                        r.pending.line,
                        r.pending.read_us,
                        t,
                        r.pending.body,
                    )
                    for r in refused
                ],
            )
            self._bump(c, {**counts, "confirmed": len(batch)})
            if counts.get("uploads"):
                self._set(c, {"last_upload_us": t})

    def note(self, **values: Any) -> None:
        """Record state values (last error, last attempt …)."""
        with self.lock, self._tx() as c:
            self._set(c, values)

    # ------------------------------------------------------------ status
    def status(self, recent: int = 5) -> dict[str, Any]:
        with self.lock:
            db = self.db
            db.execute("BEGIN")  # one consistent snapshot
            try:
                state = dict(db.execute("SELECT name, value FROM state").fetchall())
                head = db.execute("SELECT read_us FROM outbox ORDER BY id LIMIT 1").fetchone()
                sources = db.execute("SELECT path, pos, lines, updated_us FROM offsets ORDER BY path").fetchall()
                refused = db.execute(
                    "SELECT status, reason, source, line, decided_us FROM rejected ORDER BY id DESC LIMIT ?", (recent,)
                ).fetchall()
                n_refused = db.execute("SELECT count(*) FROM rejected").fetchone()[0]
            finally:
                db.execute("COMMIT")
        counters = {k: int(state.get(k, 0)) for k in COUNTERS}
        return {
            "backlog": counters["read"] - counters["confirmed"],
            "oldest_read_us": head[0] if head else None,
            "last_upload_us": state.get("last_upload_us"),
            "last_error": state.get("last_error"),
            "last_error_us": state.get("last_error_us"),
            "counters": counters,
            "rejected_rows": int(n_refused),
            "sources": [{"path": p, "pos": pos, "lines": n, "updated_us": u} for p, pos, n, u in sources],
            "gauges": _gauges(state),
            "recent_rejected": [
                {"status": s, "reason": r, "source": src, "line": n, "decided_us": u} for s, r, src, n, u in refused
            ],
        }

    def rejected(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT status, reason, kind, key, source, line, body FROM rejected ORDER BY id"
            ).fetchall()
        return [
            {"status": s, "reason": r, "kind": k, "key": key, "source": src, "line": n, "body": bytes(b)}
            for s, r, k, key, src, n, b in rows
        ]


def _gauges(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tank gauges' state values (``gauge:NAME:last_ok_us`` …) by gauge name."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in state.items():
        if name.startswith("gauge:") and name.count(":") == 2:
            _, gauge, key = name.split(":")
            out.setdefault(gauge, {"last_ok_us": None, "last_error": None, "last_error_us": None})[key] = value
    return dict(sorted(out.items()))
