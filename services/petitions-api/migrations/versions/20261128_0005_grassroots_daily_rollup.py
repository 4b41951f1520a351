"""metrics: grassroots_daily, the first-time grassroots figure pre-aggregated per day and town

Backfilled from the cases already stored, with the same SQL the benchmark's seed runs after a
bulk load (petitions_api.metrics.rollup.REBUILD_SQL); from here on the case service keeps it
in step in the transaction of every change that moves a case into or out of the figure.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from petitions_api.metrics.rollup import REBUILD_SQL

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grassroots_daily",
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("town_unit_id", sa.String(length=32), nullable=True),
        sa.Column("numerator", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("denominator", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.UniqueConstraint(
            "closed_on",
            "town_unit_id",
            name="uq_grassroots_daily_day_town",
            postgresql_nulls_not_distinct=True,
        ),
    )
    for statement in REBUILD_SQL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("grassroots_daily")
