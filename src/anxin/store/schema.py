"""The platform's tables (SQLAlchemy Core), the same for SQLite and PostgreSQL.

Alembic's migrations (``anxin/store/migrations``) create and change them; this module
is what the code reads and writes through, and what the migration test compares the
migrated database with.

* ``ledger`` (原始记录台账): every record that could be read, exactly once, in the order
  the engine was fed (``id``), as the line that arrived. Idempotent on the record's
  digest: an identical resend is a duplicate, never a second row; a different record
  with the same natural key (a cloned module's second version) is a row of its own,
  which the engine judges. Forged or unknown-device records are kept as evidence with
  ``quarantined`` set (the quarantine, 隔离区): the engine alarms on them and goes no further.
* ``rejects``: lines that could not be read, with the reason (counted; an excerpt kept).
* ``alarms`` with their evidence; ``verifications``; ``meter_estimates`` (the tank
  witness's trend); ``registry_versions`` (every registry change, who and why);
  ``station_tokens`` (hashed API tokens); ``checkpoints`` (engine state and the ledger
  position it covers); ``webhooks`` and ``webhook_deliveries`` (the outbox).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# SQLite's INTEGER PRIMARY KEY is its rowid (the fast layout); PostgreSQL gets a bigint identity.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")

ledger = Table(
    "ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_us", BigInteger, nullable=False),  # wall clock at arrival (operations only)
    Column("kind", String(16), nullable=False),
    Column("station_id", String(128), nullable=False),
    Column("natural_key", String(300), nullable=False),
    Column("event_time_us", BigInteger, nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("verdict", Integer),  # KeyVerdict of signed kinds
    Column("quarantined", Boolean, nullable=False),  # forged / unknown device: evidence, judged apart
    Column("source", String(200), nullable=False),  # "http", "mqtt", "file:…"
    Column("body", LargeBinary, nullable=False),
    UniqueConstraint("digest", name="ledger_digest"),
)
Index("ledger_station_time", ledger.c.station_id, ledger.c.event_time_us)
Index("ledger_quarantined", ledger.c.quarantined, ledger.c.id)

rejects = Table(
    "rejects",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_us", BigInteger, nullable=False),
    Column("station_id", String(128)),
    Column("source", String(200), nullable=False),
    Column("line", Integer, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("excerpt", LargeBinary, nullable=False),  # at most 1 KiB of the line
)

alarms = Table(
    "alarms",
    metadata,
    Column("ord", Id, primary_key=True, autoincrement=True),  # the order raised: SSE event ids
    Column("alarm_id", String(64), nullable=False, unique=True),
    Column("rule", String(40), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("station_id", String(128), nullable=False),
    Column("nozzle_id", String(128)),
    Column("tank_id", String(128)),
    Column("seq", BigInteger),
    Column("order_id", String(128)),
    Column("ts", String(40), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    Column("evidence", Json, nullable=False),
    Column("raised_us", BigInteger, nullable=False),  # wall clock when the platform raised it
)
Index("alarms_station_time", alarms.c.station_id, alarms.c.ts_us)
Index("alarms_rule_time", alarms.c.rule, alarms.c.ts_us)
Index("alarms_raised", alarms.c.raised_us)

verifications = Table(
    "verifications",
    metadata,
    Column("nozzle_id", String(128), primary_key=True),
    Column("ts", String(40), primary_key=True),
    Column("station_id", String(128), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("result", Json, nullable=False),
)

meter_estimates = Table(
    "meter_estimates",
    metadata,
    Column("nozzle_id", String(128), primary_key=True),
    Column("ts", String(40), primary_key=True),
    Column("station_id", String(128), nullable=False),
    Column("tank_id", String(128), nullable=False),
    Column("k_pulses_per_m3", BigInteger, nullable=False),
    Column("error_permille", Float, nullable=False),
    Column("ci_lo_permille", Float, nullable=False),
    Column("ci_hi_permille", Float, nullable=False),
    Column("n", Integer, nullable=False),
    Column("status", String(16), nullable=False),
)

registry_versions = Table(
    "registry_versions",
    metadata,
    Column("version", Id, primary_key=True, autoincrement=True),
    Column("created_us", BigInteger, nullable=False),
    Column("author", String(128), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("document", LargeBinary, nullable=False),  # registry.json as contract section 2
)

station_tokens = Table(
    "station_tokens",
    metadata,
    Column("station_id", String(128), primary_key=True),
    Column("token_sha256", LargeBinary(32), nullable=False),
    Column("created_us", BigInteger, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("ledger_id", BigInteger, nullable=False),  # every ledger row ≤ this is in the state
    Column("registry_version", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("state", LargeBinary, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_us", BigInteger, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("webhook_id", BigInteger, ForeignKey("webhooks.id"), nullable=False),
    Column("alarm_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("last_error", String(500)),
    UniqueConstraint("webhook_id", "alarm_id", name="webhook_delivery_once"),
)
Index("webhook_deliveries_due", webhook_deliveries.c.status, webhook_deliveries.c.next_attempt_us)
