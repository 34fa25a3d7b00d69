"""The first schema of the live service: ledger, rejects, alarms, verifications, meter
estimates, registry versions, station tokens, checkpoints, webhooks and their outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("natural_key", sa.String(300), nullable=False),
        sa.Column("event_time_us", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("verdict", sa.Integer),
        sa.Column("quarantined", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("digest", name="ledger_digest"),
    )
    op.create_index("ledger_station_time", "ledger", ["station_id", "event_time_us"])
    op.create_index("ledger_quarantined", "ledger", ["quarantined", "id"])
    op.create_table(
        "rejects",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("station_id", sa.String(128)),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("excerpt", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "alarms",
        sa.Column("ord", Id, primary_key=True, autoincrement=True),
        sa.Column("alarm_id", sa.String(64), nullable=False, unique=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("nozzle_id", sa.String(128)),
        sa.Column("tank_id", sa.String(128)),
        sa.Column("seq", sa.BigInteger),
        sa.Column("order_id", sa.String(128)),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("ts_us", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", Json, nullable=False),
        sa.Column("raised_us", sa.BigInteger, nullable=False),
    )
    op.create_index("alarms_station_time", "alarms", ["station_id", "ts_us"])
    op.create_index("alarms_rule_time", "alarms", ["rule", "ts_us"])
    op.create_index("alarms_raised", "alarms", ["raised_us"])
    op.create_table(
        "verifications",
        sa.Column("nozzle_id", sa.String(128), primary_key=True),
        sa.Column("ts", sa.String(40), primary_key=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("result", Json, nullable=False),
    )
    op.create_table(
        "meter_estimates",
        sa.Column("nozzle_id", sa.String(128), primary_key=True),
        sa.Column("ts", sa.String(40), primary_key=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("tank_id", sa.String(128), nullable=False),
        sa.Column("k_pulses_per_m3", sa.BigInteger, nullable=False),
        sa.Column("error_permille", sa.Float, nullable=False),
        sa.Column("ci_lo_permille", sa.Float, nullable=False),
        sa.Column("ci_hi_permille", sa.Float, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "registry_versions",
        sa.Column("version", Id, primary_key=True, autoincrement=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "station_tokens",
        sa.Column("station_id", sa.String(128), primary_key=True),
        sa.Column("token_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ledger_id", sa.BigInteger, nullable=False),
        sa.Column("registry_version", sa.BigInteger, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("webhook_id", sa.BigInteger, sa.ForeignKey("webhooks.id"), nullable=False),
        sa.Column("alarm_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.UniqueConstraint("webhook_id", "alarm_id", name="webhook_delivery_once"),
    )
    op.create_index("webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_us"])


def downgrade() -> None:
    for name in (
        "webhook_deliveries",
        "webhooks",
        "checkpoints",
        "station_tokens",
        "registry_versions",
        "meter_estimates",
        "verifications",
        "alarms",
        "rejects",
        "ledger",
    ):
        op.drop_table(name)
