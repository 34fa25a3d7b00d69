"""Sales per station and local day, for the console's figures.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_sales",
        sa.Column("station_id", sa.String(128), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("sales", sa.BigInteger, nullable=False),
        sa.Column("volume_ml", sa.BigInteger, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("daily_sales")
