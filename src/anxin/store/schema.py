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
* ``alarms`` with their evidence; ``verifications``; ``meter_estimates`` and
  ``tank_estimates`` (the tank witness's looks: each nozzle's and each tank's);
  ``registry_versions`` (every registry change, who and why); ``station_tokens``
  (hashed API tokens); ``checkpoints`` (engine state and the ledger position it
  covers, per partition in the scale-out); ``stream_positions`` (each partition's place
  in its stream); ``webhooks`` and ``webhook_deliveries`` (the outbox).
"""

from __future__ import annotations

from typing import Any

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
    Column("received_us", BigInteger, nullable=False),  # receipt time: the engine's clock, again on replay
    Column("kind", String(16), nullable=False),
    Column("station_id", String(128), nullable=False),
    Column("natural_key", String(300), nullable=False),
    Column("event_time_us", BigInteger, nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("verdict", Integer),  # KeyVerdict of signed kinds
    Column("quarantined", Boolean, nullable=False),  # forged / unknown device: evidence, judged apart
    Column("source", String(200), nullable=False),  # "http", "mqtt", "file:…"
    Column("body", LargeBinary, nullable=False),
    Column("part", Integer),  # scale-out: the stream partition it came from (None: one engine for all)
    UniqueConstraint("digest", name="ledger_digest"),
)
Index("ledger_station_time", ledger.c.station_id, ledger.c.event_time_us)
Index("ledger_quarantined", ledger.c.quarantined, ledger.c.id)
Index("ledger_part", ledger.c.part, ledger.c.id)

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
Index("alarms_time", alarms.c.ts_us, alarms.c.ord)  # the lists: event time, newest first

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
    # beside an "insufficient" nozzle: the tank's pooled error and its 95 % interval
    Column("pooled_permille", Float),
    Column("pooled_ci_lo_permille", Float),
    Column("pooled_ci_hi_permille", Float),
)
Index("meter_estimates_station_time", meter_estimates.c.station_id, meter_estimates.c.ts)

# The tank side of each look of the tank witness (its loss, leak verdict, pooled meter
# error, the chart correction learnt from the data): the station page's tank figures.
tank_estimates = Table(
    "tank_estimates",
    metadata,
    Column("tank_id", String(128), primary_key=True),
    Column("ts", String(40), primary_key=True),
    Column("station_id", String(128), nullable=False),
    Column("loss_l_per_h", Float, nullable=False),
    Column("loss_ci_lo_l_per_h", Float, nullable=False),
    Column("loss_ci_hi_l_per_h", Float, nullable=False),
    Column("leak_suspected", Boolean, nullable=False),
    Column("leak_conclusive", Boolean, nullable=False),
    Column("pooled_permille", Float),
    Column("pooled_ci_lo_permille", Float),
    Column("pooled_ci_hi_permille", Float),
    Column("scale_anchored", Boolean, nullable=False),
    Column("deliveries_declared", Integer, nullable=False),
    Column("deliveries_inconsistent", Integer, nullable=False),
    Column("hours", Float, nullable=False),
    Column("readings_used", Integer, nullable=False),
    Column("residual_sd_ml", Float, nullable=False),
    Column("chart_correction", Json, nullable=False),  # [[level_um, mL], …]: mL to add at that registered level
    Column("method", String(64), nullable=False),
    # the verification register's anchor: verified nozzles that took part, the notes'
    # common bias it removed (‰; None: no verified nozzle in the tank)
    Column("register_nozzles", Integer, nullable=False, server_default="0"),
    Column("register_shift_permille", Float),
)
Index("tank_estimates_station_time", tank_estimates.c.station_id, tank_estimates.c.ts)

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
    Column("part", Integer),  # scale-out: the partition's engine (None: the one engine of anxin serve)
)

# Scale-out (anxin.cluster): where each partition's worker is in its stream. Advanced in the
# transaction that stores what it consumed, only from the position it started from and by
# the newest lease (epoch): a redelivery or a worker that lost its lease changes nothing.
stream_positions = Table(
    "stream_positions",
    metadata,
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),  # the stream sequence of the last message stored
    Column("epoch", BigInteger, nullable=False),  # the lease's revision of the worker that stored it
    Column("owner", String(128), nullable=False),
    Column("updated_us", BigInteger, nullable=False),
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

# ---------------------------------------------------------------- console (migration 0002)
# Users and roles (用户与角色): admin, regulator, inspector, operator (its stations only).
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(128), nullable=False),
    Column("role", String(16), nullable=False),  # admin | regulator | inspector | operator
    Column("stations", Json, nullable=False),  # operator: the station ids it may see; others: []
    Column("district", String(64)),  # optional scope of a regulator or inspector
    Column("password_hash", String(200), nullable=False),  # argon2id
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until_us", BigInteger, nullable=False, default=0),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_us", BigInteger, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_sha256", LargeBinary(32), primary_key=True),  # the cookie holds the token, the store its hash
    Column("user_id", BigInteger, ForeignKey("users.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
)

# Every change anyone makes (who, when, what, why), hash-chained: hash = SHA-256(prev ‖ entry).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("ts_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),  # username, or "system", or "public"
    Column("action", String(64), nullable=False),  # e.g. alarm.acknowledge, user.create, registry.change
    Column("subject", String(200), nullable=False),  # e.g. alarm:<id>, user:<name>, nozzle:<id>
    Column("reason", Text, nullable=False),
    Column("data", Json, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False, unique=True),
)

# Alarm triage (报警处置): the current state of each alarm that anyone has touched (an
# alarm without a row is "new"); the history is in the audit log.
alarm_states = Table(
    "alarm_states",
    metadata,
    Column("alarm_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # new | acknowledged | dispatched | on_site | confirmed | false_alarm
    Column("incident_id", BigInteger),
    Column("work_order_id", BigInteger),
    Column("case_id", BigInteger),
    Column("closed_reason", Text),
    Column("updated_us", BigInteger, nullable=False),
    Column("updated_by", String(64), nullable=False),
)
Index("alarm_states_status", alarm_states.c.status)

# Incidents group repeated alarms of one nozzle (or station, when no nozzle) while open.
incidents = Table(
    "incidents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", String(128), nullable=False),
    Column("nozzle_id", String(128)),
    Column("first_ts_us", BigInteger, nullable=False),
    Column("last_ts_us", BigInteger, nullable=False),
    Column("alarms", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
)
Index("incidents_open", incidents.c.station_id, incidents.c.nozzle_id, incidents.c.status)

# Work orders (工单): an inspector sent to the station, with a due time and a result.
work_orders = Table(
    "work_orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alarm_id", String(64), nullable=False),
    Column("incident_id", BigInteger),
    Column("station_id", String(128), nullable=False),
    Column("inspector", String(64), nullable=False),
    Column("due_us", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open | reported | closed
    Column("result", Text),
    Column("created_us", BigInteger, nullable=False),
    Column("reported_us", BigInteger),
)
Index("work_orders_open", work_orders.c.status, work_orders.c.due_us)

# Cases (案件) opened from a confirmed alarm; the full case workflow is the supervision issue's.
cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", String(128), nullable=False),
    Column("source", String(200), nullable=False),  # alarm:<id> | complaint:<id> | inspection:<id>
    Column("status", String(16), nullable=False),  # open | investigating | decided | closed
    Column("opened_us", BigInteger, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("summary", Text, nullable=False),
)

# Complaints from the public page (投诉): kept here; their handling is the supervision issue's.
complaints = Table(
    "complaints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_us", BigInteger, nullable=False),
    Column("station_id", String(128), nullable=False),
    Column("nozzle_id", String(128)),
    Column("text", Text, nullable=False),
    Column("contact", String(200)),
    Column("status", String(16), nullable=False),  # received | …
)

# ---------------------------------------------------------------- figures (migration 0003)
# Sales per station and local day, kept at ingest in the ledger's transaction, so the
# overview's figures never scan the ledger.
daily_sales = Table(
    "daily_sales",
    metadata,
    Column("station_id", String(128), primary_key=True),
    Column("day", String(10), primary_key=True),  # local date YYYY-MM-DD
    Column("sales", BigInteger, nullable=False),
    Column("volume_ml", BigInteger, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
)

# When the platform first heard from each station (migration 0006): its monitoring, and its
# online rate (在线率), start then. The rest of the platform's clock is in the ledger: each
# row's receipt time, and the ticks (kind ``tick``) that decide a silent station.
station_watch = Table(
    "station_watch",
    metadata,
    Column("station_id", String(128), primary_key=True),
    Column("since_us", BigInteger, nullable=False),  # receipt time of its first accepted record
)

# ---------------------------------------------------------------- supervision (migration 0004)
_col: Column[Any]  # the columns added to tables below, of every type
# Complaints (投诉举报) gain their handling: references, assignment, deadline, reply, outcome.
for _col in (
    Column("channel", String(16)),  # qr | web | api | phone
    Column("order_ref", String(128)),  # the customer's order number, if given
    Column("event_ts_us", BigInteger),  # when it happened, if given
    Column("assignee", String(64)),
    Column("deadline_us", BigInteger),
    Column("reply", Text),
    Column("outcome", String(32)),  # substantiated | unsubstantiated | referred | withdrawn
    Column("closed_us", BigInteger),
):
    complaints.append_column(_col)

complaint_links = Table(
    "complaint_links",
    metadata,
    Column("complaint_id", BigInteger, ForeignKey("complaints.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # settlement | metering | alarm
    Column("ref", String(200), primary_key=True),  # natural key or alarm id
    Column("why", Text, nullable=False),  # parts (JSON, supervision.parts) or, before, a sentence
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner", String(64), nullable=False),  # complaint:<id> | inspection:<id> | case:<id>
    Column("name", String(200), nullable=False),
    Column("mime", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_us", BigInteger, nullable=False),
)
Index("attachments_owner", attachments.c.owner)

# Inspections (检查): plans from the random draw (双随机), visits with their checklist and
# test fill, rectification orders (整改) closed only by a follow-up visit.
inspection_plans = Table(
    "inspection_plans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("method", String(16), nullable=False),  # risk | uniform
    Column("seed", BigInteger, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("draw", Json, nullable=False),  # the draw: scores, weights, picks — enough to reproduce it
)

inspections = Table(
    "inspections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("plan_id", BigInteger),
    Column("kind", String(16), nullable=False),  # routine | unannounced | citizen | follow_up
    Column("station_id", String(128), nullable=False),
    Column("nozzle_id", String(128)),  # a citizen-chosen nozzle (你点我检)
    Column("inspector", String(64), nullable=False),
    Column("scheduled_us", BigInteger, nullable=False),
    Column("visited_us", BigInteger),
    Column("status", String(16), nullable=False),  # planned | done | cancelled
    Column("checklist", Json, nullable=False),  # item → {"ok": bool, "note": str}
    Column("test_fill", Json),  # runs with a standard measure, and the computed error
    Column("findings", Text),
    Column("follow_up_of", BigInteger),
    Column("created_us", BigInteger, nullable=False),
)
Index("inspections_station", inspections.c.station_id, inspections.c.scheduled_us)

rectifications = Table(
    "rectifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("inspection_id", BigInteger, nullable=False),
    Column("station_id", String(128), nullable=False),
    Column("finding", Text, nullable=False),
    Column("deadline_us", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("closed_by", BigInteger),  # the follow-up inspection that closed it
    Column("closed_us", BigInteger),
)

# 你点我检: a citizen picks a nozzle on its public page; the regulator schedules a visit.
citizen_requests = Table(
    "citizen_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("station_id", String(128), nullable=False),
    Column("nozzle_id", String(128), nullable=False),
    Column("requested_us", BigInteger, nullable=False),
    Column("contact", String(200)),
    Column("status", String(16), nullable=False),  # requested | scheduled | done
    Column("inspection_id", BigInteger),
)

# Cases (案件) gain parties, violations, penalties and their closure.
for _col in (
    Column("parties", Json),  # [{"name", "role", "id_no"}]
    Column("violations", Json),  # [{"code", "text"}]
    Column("penalty_fen", BigInteger),
    Column("boards_confiscated", Integer),
    Column("decision", Text),
    Column("closed_us", BigInteger),
):
    cases.append_column(_col)

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # daily | period
    Column("period_start", String(10), nullable=False),  # local dates, inclusive
    Column("period_end", String(10), nullable=False),
    Column("district", String(64)),
    Column("created_us", BigInteger, nullable=False),
    Column("figures", Json, nullable=False),
    UniqueConstraint("kind", "period_start", "period_end", "district", name="report_once"),
)

# ---------------------------------------------------------------- public channels, login (migration 0008)
# Counters that expire, shared by every worker process (anxin.store.throttle): the public
# channels' rate limits and quotas, the login throttle, the failed-login audit windows,
# the proof-of-work nonces already used.
throttle = Table(
    "throttle",
    metadata,
    Column("key", String(200), primary_key=True),  # e.g. pub:addr:h:203.0.113.7, login:user:zhang
    Column("count", BigInteger, nullable=False),
    Column("first_us", BigInteger, nullable=False),
    Column("last_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=False),
    Column("data", Json),  # details kept with a window (the failed-login audit: reasons, addresses)
)
Index("throttle_expires", throttle.c.expires_us)

# The installation's own keys (random, made on first use): they sign the anonymous forms'
# CSRF tokens, the device cookies of the login throttle and the proof-of-work challenges.
web_keys = Table(
    "web_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("secret", LargeBinary(64), nullable=False),
)

# A complaint counts in the risk score (双随机) only once a regulator triaged it as
# plausible (None: not triaged yet; False: not plausible, e.g. spam).
complaints.append_column(Column("plausible", Boolean))

# ---------------------------------------------------------------- provenance, evidence (migration 0007)
# Verification institutes' API tokens (contract v1.1 §C): stored as SHA-256 only, like
# the stations'. An institute sends verification records, and nothing else.
institute_tokens = Table(
    "institute_tokens",
    metadata,
    Column("institute_id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
)
# Every upload looks its token up (no cache: a token reissued by any process is refused at once).
Index("station_tokens_hash", station_tokens.c.token_sha256)
# Who sent each verification (the register, the public page): its ledger rows, found
# through a partial index (verifications are a sliver of the ledger).
Index(
    "ledger_verifications",
    ledger.c.natural_key,
    sqlite_where=ledger.c.kind == "verification",
    postgresql_where=ledger.c.kind == "verification",
)

# The platform's own signing keys (evidence bundles): the newest active one signs; the
# public keys are published (GET /v1/platform/keys). ``private_key`` is NULL for a key
# configured from a file (ANXIN_SIGNING_KEY_FILE): only its public half is kept here.
platform_keys = Table(
    "platform_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("alg", String(16), nullable=False),  # ed25519 | sm2
    Column("public_key", String(300), nullable=False),  # as in the registry: base64 (Ed25519), hex 04‖X‖Y (SM2)
    Column("private_key", LargeBinary),  # the raw private key (32 bytes), or NULL
    Column("created_us", BigInteger, nullable=False),
)

# ---------------------------------------------------------------- rows set aside (migration 0005)
# Ledger rows that could not be processed (contract v1.1 §A: a line that no longer parses,
# or that made the engine fail). The row stays in the ledger as evidence; every replay
# skips it (so the platform always starts, and replays stay deterministic), and the
# operators see it: /readyz, /metrics (anxin_ledger_rows_set_aside), the log.
ledger_skipped = Table(
    "ledger_skipped",
    metadata,
    Column("ledger_id", BigInteger, primary_key=True, autoincrement=False),  # the ledger row's id
    Column("created_us", BigInteger, nullable=False),  # the platform's clock when it was set aside
    Column("station_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stage", String(16), nullable=False),  # parse | engine
    Column("reason", String(500), nullable=False),
)

# ---------------------------------------------------------------- district maps (migration 0012)
# A city's district boundaries as an administrator loaded them (``anxin map load``): every
# load a version of its own, kept (what the console drew, when, from which file, under
# whose attribution); the newest is the map. ``document`` is the checked FeatureCollection
# (``anxin.geo.boundaries``: names and geometry only), served to the console as it is.
district_maps = Table(
    "district_maps",
    metadata,
    Column("version", Id, primary_key=True, autoincrement=True),
    Column("loaded_us", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("source", String(300), nullable=False),  # the file's name as given (or what made it)
    Column("sha256", LargeBinary(32), nullable=False),  # of the file as loaded
    Column("name_field", String(64), nullable=False),
    Column("attribution", String(500), nullable=False),  # shown under the map ("" none)
    Column("attribution_en", String(500)),  # on English pages (None: the same)
    Column("districts", Json, nullable=False),  # the names, in the file's order
    Column("vertices", Integer, nullable=False),
    Column("document", LargeBinary, nullable=False),
)

# ---------------------------------------------------------------- other agencies (migration 0015)
# Read tokens an administrator issues to another agency's system (the tax bureau, commerce
# statistics): one dataset or both, one district or the city; stored as SHA-256 only,
# revoked by date (the row stays: which agency held which token, and until when).
agency_tokens = Table(
    "agency_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agency", String(200), nullable=False),  # the agency's name, as the administrator entered it
    Column("kinds", String(64), nullable=False),  # "tax", "commerce" or "commerce,tax"
    Column("district", String(128)),  # None: every district
    Column("token_sha256", LargeBinary(32), nullable=False, unique=True),
    Column("created_us", BigInteger, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("revoked_us", BigInteger),
)
