"""District maps (issue 13, item 4): a city's district boundaries as an administrator
loaded them (anxin map load), every load a version, the newest drawn on the overview.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "district_maps",
        sa.Column("version", Id, primary_key=True, autoincrement=True),
        sa.Column("loaded_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("name_field", sa.String(64), nullable=False),
        sa.Column("attribution", sa.String(500), nullable=False),
        sa.Column("attribution_en", sa.String(500)),
        sa.Column("districts", Json, nullable=False),
        sa.Column("vertices", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("district_maps")
