"""Provenance and evidence: verification institutes' API tokens, the index that finds
who sent each verification, the station tokens' lookup index, and the platform's own
signing keys (evidence bundles).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "institute_tokens",
        sa.Column("institute_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_sha256", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index("station_tokens_hash", "station_tokens", ["token_sha256"])
    op.create_index(
        "ledger_verifications",
        "ledger",
        ["natural_key"],
        sqlite_where=sa.text("kind = 'verification'"),
        postgresql_where=sa.text("kind = 'verification'"),
    )
    op.create_table(
        "platform_keys",
        sa.Column("key_id", sa.String(64), primary_key=True),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(300), nullable=False),
        sa.Column("private_key", sa.LargeBinary),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("platform_keys")
    op.drop_index("ledger_verifications", "ledger")
    op.drop_index("station_tokens_hash", "station_tokens")
    op.drop_table("institute_tokens")
