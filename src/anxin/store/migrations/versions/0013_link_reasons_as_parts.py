"""Complaint links keep why as parts (issue 13: stored data stays language-neutral): a
link's ``why`` becomes a text column — the parts (JSON, anxin.supervision.parts) carry
the sale's natural key whole, which 300 characters did not always hold (a sentence was
cut there; parts cut would not read). Rows stay as they are: a reason stored before is
the Chinese sentence, shown as written.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaint_links") as b:
        b.alter_column("why", existing_type=sa.String(300), type_=sa.Text, existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("complaint_links") as b:
        b.alter_column("why", existing_type=sa.Text, type_=sa.String(300), existing_nullable=False)
