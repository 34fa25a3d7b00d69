"""Scale-out partitions (issue 15): each ledger row and checkpoint may belong to a stream
partition (NULL: the one engine of ``anxin serve``), and each partition's place in its
stream is stored with what its worker consumed.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger") as b:
        b.add_column(sa.Column("part", sa.Integer))
    op.create_index("ledger_part", "ledger", ["part", "id"])
    with op.batch_alter_table("checkpoints") as b:
        b.add_column(sa.Column("part", sa.Integer))
    op.create_table(
        "stream_positions",
        sa.Column("part", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stream_positions")
    with op.batch_alter_table("checkpoints") as b:
        b.drop_column("part")
    op.drop_index("ledger_part", table_name="ledger")
    with op.batch_alter_table("ledger") as b:
        b.drop_column("part")
