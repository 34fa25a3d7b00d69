"""The tank witness's looks in full (issue 12): the tank side of every look (loss and
leak verdict, the tank's pooled meter error, whether the chart's scale was anchored, the
deliveries declared and contradicted, the chart correction learnt from the data), and the
tank's pooled figure beside each nozzle's estimate.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "tank_estimates",
        sa.Column("tank_id", sa.String(128), primary_key=True),
        sa.Column("ts", sa.String(40), primary_key=True),
        sa.Column("station_id", sa.String(128), nullable=False),
        sa.Column("loss_l_per_h", sa.Float, nullable=False),
        sa.Column("loss_ci_lo_l_per_h", sa.Float, nullable=False),
        sa.Column("loss_ci_hi_l_per_h", sa.Float, nullable=False),
        sa.Column("leak_suspected", sa.Boolean, nullable=False),
        sa.Column("leak_conclusive", sa.Boolean, nullable=False),
        sa.Column("pooled_permille", sa.Float),
        sa.Column("pooled_ci_lo_permille", sa.Float),
        sa.Column("pooled_ci_hi_permille", sa.Float),
        sa.Column("scale_anchored", sa.Boolean, nullable=False),
        sa.Column("deliveries_declared", sa.Integer, nullable=False),
        sa.Column("deliveries_inconsistent", sa.Integer, nullable=False),
        sa.Column("hours", sa.Float, nullable=False),
        sa.Column("readings_used", sa.Integer, nullable=False),
        sa.Column("residual_sd_ml", sa.Float, nullable=False),
        sa.Column("chart_correction", Json, nullable=False),  # [[level_um, mL], …]
        sa.Column("method", sa.String(64), nullable=False),
    )
    op.create_index("tank_estimates_station_time", "tank_estimates", ["station_id", "ts"])
    with op.batch_alter_table("meter_estimates") as b:
        b.add_column(sa.Column("pooled_permille", sa.Float))
        b.add_column(sa.Column("pooled_ci_lo_permille", sa.Float))
        b.add_column(sa.Column("pooled_ci_hi_permille", sa.Float))
    op.create_index("meter_estimates_station_time", "meter_estimates", ["station_id", "ts"])


def downgrade() -> None:
    op.drop_index("meter_estimates_station_time", table_name="meter_estimates")
    with op.batch_alter_table("meter_estimates") as b:
        b.drop_column("pooled_ci_hi_permille")
        b.drop_column("pooled_ci_lo_permille")
        b.drop_column("pooled_permille")
    op.drop_index("tank_estimates_station_time", table_name="tank_estimates")
    op.drop_table("tank_estimates")
