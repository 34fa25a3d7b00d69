"""Supervision to closure: complaint handling and links, attachments, inspection plans
(the random draw), inspections with checklist and test fill, rectification orders,
citizen-chosen inspections, case details, reports.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("complaints") as b:
        b.add_column(sa.Column("channel", sa.String(16)))
        b.add_column(sa.Column("order_ref", sa.String(128)))
        b.add_column(sa.Column("event_ts_us", sa.BigInteger))
        b.add_column(sa.Column("assignee", sa.String(64)))
        b.add_column(sa.Column("deadline_us", sa.BigInteger))
        b.add_column(sa.Column("reply", sa.Text))
        b.add_column(sa.Column("outcome", sa.String(32)))
        b.add_column(sa.Column("closed_us", sa.BigInteger))
    op.create_table(
        "complaint_links",
        sa.Column("complaint_id", sa.BigInteger, sa.ForeignKey("complaints.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("ref", sa.String(200), primary_key=True),
        sa.Column("why", sa.String(300), nullable=False),
    )
    op.create_table(
        "attachments",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mime", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index("attachments_owner", "attachments", ["owner"])
    op.create_table(
        "inspection_plans",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("draw", Json, nullable=False),
    )
    op.create_table(
        "inspections",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.BigInteger),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("nozzle_id", sa.String(128)),
        sa.Column("inspector", sa.String(64), nullable=False),
        sa.Column("scheduled_us", sa.BigInteger, nullable=False),
        sa.Column("visited_us", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("checklist", Json, nullable=False),
        sa.Column("test_fill", Json),
        sa.Column("findings", sa.Text),
        sa.Column("follow_up_of", sa.BigInteger),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index("inspections_station", "inspections", ["station_id", "scheduled_us"])
    op.create_table(
        "rectifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("inspection_id", sa.BigInteger, nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("finding", sa.Text, nullable=False),
        sa.Column("deadline_us", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("closed_by", sa.BigInteger),
        sa.Column("closed_us", sa.BigInteger),
    )
    op.create_table(
        "citizen_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("nozzle_id", sa.String(128), nullable=False),
        sa.Column("requested_us", sa.BigInteger, nullable=False),
        sa.Column("contact", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("inspection_id", sa.BigInteger),
    )
    with op.batch_alter_table("cases") as b:
        b.add_column(sa.Column("parties", Json))
        b.add_column(sa.Column("violations", Json))
        b.add_column(sa.Column("penalty_fen", sa.BigInteger))
        b.add_column(sa.Column("boards_confiscated", sa.Integer))
        b.add_column(sa.Column("decision", sa.Text))
        b.add_column(sa.Column("closed_us", sa.BigInteger))
    op.create_table(
        "reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.String(10), nullable=False),
        sa.Column("period_end", sa.String(10), nullable=False),
        sa.Column("district", sa.String(64)),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("figures", Json, nullable=False),
        sa.UniqueConstraint("kind", "period_start", "period_end", "district", name="report_once"),
    )


def downgrade() -> None:
    for name in (
        "reports",
        "citizen_requests",
        "rectifications",
        "inspections",
        "inspection_plans",
        "attachments",
        "complaint_links",
    ):
        op.drop_table(name)
    with op.batch_alter_table("cases") as b:
        for col in ("parties", "violations", "penalty_fen", "boards_confiscated", "decision", "closed_us"):
            b.drop_column(col)
    with op.batch_alter_table("complaints") as b:
        for col in ("channel", "order_ref", "event_ts_us", "assignee", "deadline_us", "reply", "outcome", "closed_us"):
            b.drop_column(col)
