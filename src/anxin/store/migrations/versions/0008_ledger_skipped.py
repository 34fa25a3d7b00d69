"""Ledger rows set aside: a row that cannot be processed (it no longer parses, or the
engine failed on it) is marked here, skipped by every replay and shown to the operators
(contract v1.1 §A, issue 11).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_skipped",
        sa.Column("ledger_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ledger_skipped")
