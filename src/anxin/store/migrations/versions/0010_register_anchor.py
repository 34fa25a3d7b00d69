"""The tank witness's register anchor (issue 12): per tank and look, how many verified
nozzles anchored the notes' common bias and the shift it removed (‰).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tank_estimates") as b:
        b.add_column(sa.Column("register_nozzles", sa.Integer, nullable=False, server_default="0"))
        b.add_column(sa.Column("register_shift_permille", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("tank_estimates") as b:
        b.drop_column("register_shift_permille")
        b.drop_column("register_nozzles")
