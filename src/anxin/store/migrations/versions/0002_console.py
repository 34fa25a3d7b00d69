"""The console: users and sessions, the hash-chained audit log, alarm triage states,
incidents, work orders, cases opened from confirmed alarms, public complaints.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("stations", Json, nullable=False),
        sa.Column("district", sa.String(64)),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until_us", sa.BigInteger, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_sha256", sa.LargeBinary(32), primary_key=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, primary_key=True, autoincrement=True),
        sa.Column("ts_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False, unique=True),
    )
    op.create_table(
        "alarm_states",
        sa.Column("alarm_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("incident_id", sa.BigInteger),
        sa.Column("work_order_id", sa.BigInteger),
        sa.Column("case_id", sa.BigInteger),
        sa.Column("closed_reason", sa.Text),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_index("alarm_states_status", "alarm_states", ["status"])
    op.create_table(
        "incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("nozzle_id", sa.String(128)),
        sa.Column("first_ts_us", sa.BigInteger, nullable=False),
        sa.Column("last_ts_us", sa.BigInteger, nullable=False),
        sa.Column("alarms", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_index("incidents_open", "incidents", ["station_id", "nozzle_id", "status"])
    op.create_table(
        "work_orders",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("alarm_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.BigInteger),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("inspector", sa.String(64), nullable=False),
        sa.Column("due_us", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("reported_us", sa.BigInteger),
    )
    op.create_index("work_orders_open", "work_orders", ["status", "due_us"])
    op.create_table(
        "cases",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_us", sa.BigInteger, nullable=False),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_table(
        "complaints",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("received_us", sa.BigInteger, nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("nozzle_id", sa.String(128)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("contact", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    for name in ("complaints", "cases", "work_orders", "incidents", "alarm_states", "audit_log", "sessions", "users"):
        op.drop_table(name)
