"""The alarm lists in event-time order (issue 13): an index on (ts_us, ord) for the
lists' newest-first pages and their keyset cursor.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("alarms_time", "alarms", ["ts_us", "ord"])


def downgrade() -> None:
    op.drop_index("alarms_time", table_name="alarms")
