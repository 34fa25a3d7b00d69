"""The platform's clock (contract v1.1 §B, §D): when the platform first heard from each
station (its monitoring, and its online rate, start then). Receipt times are the
ledger's ``received_us`` and ticks are ledger rows of kind ``tick``: no column changes.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_watch",
        sa.Column("station_id", sa.String(128), primary_key=True),
        sa.Column("since_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("station_watch")
