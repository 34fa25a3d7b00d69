"""The embedded store (SQLite, WAL): the raw ledger of what arrived, alarms with
their evidence, verification results. Idempotent on natural keys: a resend is
never a second row; the tank witness's scheduled estimates are kept as a trend. (The production store with PostgreSQL and migrations comes
with the live service; this is the embedded default the demo uses.)

Ledger rows go into a rowid table with the natural key as a unique index only
where a key exists; alarms are keyed by their deterministic ``alarm_id``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from anxin.contract.alarm import Alarm
from anxin.contract.parse import Parsed
from anxin.contract.records import kind_of
from anxin.engine.outputs import AlarmNote
from anxin.engine.witness import WitnessLook

SCHEMA = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS ledger (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    station_id TEXT NOT NULL,
    natural_key TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    digest BLOB NOT NULL,
    verdict INTEGER,
    source TEXT,
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS ledger_key ON ledger(kind, natural_key, digest);
CREATE TABLE IF NOT EXISTS alarms (
    alarm_id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    station_id TEXT NOT NULL,
    nozzle_id TEXT,
    tank_id TEXT,
    seq INTEGER,
    order_id TEXT,
    ts TEXT NOT NULL,
    message TEXT NOT NULL,
    evidence BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alarms_rule ON alarms(rule, ts);
CREATE TABLE IF NOT EXISTS verifications (
    nozzle_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    passed INTEGER NOT NULL,
    result BLOB NOT NULL,
    PRIMARY KEY (nozzle_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_estimates (
    nozzle_id TEXT NOT NULL,
    ts TEXT NOT NULL,
    station_id TEXT NOT NULL,
    tank_id TEXT NOT NULL,
    k_pulses_per_m3 INTEGER NOT NULL,
    error_permille REAL NOT NULL,
    ci_lo_permille REAL NOT NULL,
    ci_hi_permille REAL NOT NULL,
    n INTEGER NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (nozzle_id, ts)
) WITHOUT ROWID;
"""

_enc = msgspec.json.Encoder()


def natural_key(p: Parsed) -> str:
    r = p.rec
    kind = kind_of(r)
    if kind in ("metering", "event"):
        return f"{r.nozzle_id}/{r.seq}"  # type: ignore[union-attr]
    if kind == "settlement":
        return f"{r.station_id}/{r.order_id}"  # type: ignore[union-attr]
    if kind in ("tank_reading", "delivery"):
        return f"{r.tank_id}/{p.t}"  # type: ignore[union-attr]
    return f"{r.nozzle_id}/{p.t}"  # type: ignore[union-attr]


class SqliteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def append(self, p: Parsed, body: bytes, verdict: int | None, source: str) -> bool:
        """Append a record to the ledger; False if this exact record was already there."""
        r = p.rec
        cur = self.db.execute(
            "INSERT OR IGNORE INTO ledger(kind, station_id, natural_key, event_time_us, digest, verdict, source, body)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (kind_of(r), r.station_id, natural_key(p), p.t, p.digest, verdict, source, body),
        )
        return cur.rowcount == 1

    def save_outputs(self, outputs: list[Any]) -> None:
        for o in outputs:
            if isinstance(o, Alarm):
                self.db.execute(
                    "INSERT OR IGNORE INTO alarms VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (o.alarm_id, o.rule, o.severity, o.station_id, o.nozzle_id, o.tank_id, o.seq,
                     o.order_id, o.ts, o.message, _enc.encode(o.evidence)),  # fmt: skip
                )
            elif isinstance(o, AlarmNote):
                row = self.db.execute("SELECT evidence FROM alarms WHERE alarm_id=?", (o.alarm_id,)).fetchone()
                if row is not None:
                    ev = msgspec.json.decode(row[0])
                    ev.setdefault(o.key, o.value)
                    self.db.execute("UPDATE alarms SET evidence=? WHERE alarm_id=?", (_enc.encode(ev), o.alarm_id))
            elif isinstance(o, WitnessLook):  # the estimate trend, one row per nozzle and look
                self.db.executemany(
                    "INSERT OR IGNORE INTO meter_estimates VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(m.nozzle_id, o.ts, o.station_id, m.tank_id, m.k_pulses_per_m3, m.error_permille,
                      m.ci95_permille[0], m.ci95_permille[1], m.n, m.status) for m in o.meters],
                )  # fmt: skip
            else:
                self.db.execute(
                    "INSERT OR IGNORE INTO verifications VALUES (?,?,?,?)",
                    (o.nozzle_id, o.ts, int(o.passed), _enc.encode(o)),
                )

    def commit(self) -> None:
        self.db.commit()

    def alarm_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT rule, count(*) FROM alarms GROUP BY rule ORDER BY rule").fetchall())

    def alarm_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT alarm_id FROM alarms")}

    def close(self) -> None:
        self.db.commit()
        self.db.close()
