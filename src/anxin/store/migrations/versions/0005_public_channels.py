"""Public channels and login: counters that expire (rate limits, quotas, the login
throttle, the failed-login audit windows, used challenge nonces), the installation's
signing keys, and the regulator's triage of a complaint as plausible.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "throttle",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_us", sa.BigInteger, nullable=False),
        sa.Column("last_us", sa.BigInteger, nullable=False),
        sa.Column("expires_us", sa.BigInteger, nullable=False),
        sa.Column("data", Json),
    )
    op.create_index("throttle_expires", "throttle", ["expires_us"])
    op.create_table(
        "web_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("secret", sa.LargeBinary(64), nullable=False),
    )
    with op.batch_alter_table("complaints") as b:
        b.add_column(sa.Column("plausible", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("complaints") as b:
        b.drop_column("plausible")
    op.drop_table("web_keys")
    op.drop_index("throttle_expires", table_name="throttle")
    op.drop_table("throttle")
