"""metrics: cases.responded_at and the covering indexes the figures read

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))
    # Cases taken before this column existed: the first 签收 on their timeline.
    op.execute(
        """
        UPDATE cases SET responded_at = taken.first_at
        FROM (SELECT case_id, min(occurred_at) AS first_at FROM case_timeline
              WHERE action = 'take' GROUP BY case_id) AS taken
        WHERE taken.case_id = cases.id
        """
    )
    op.create_index(
        "ix_cases_metrics_closed",
        "cases",
        ["kind", "closed_on", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'closed'"),
        postgresql_include=[
            "first_time",
            "review_stage",
            "effective",
            "grassroots",
            "on_time",
            "rating",
            "town_unit_id",
            "place_unit_id",
            "handling_unit_id",
        ],
    )
    op.create_index(
        "ix_cases_metrics_received",
        "cases",
        ["kind", "received_on", "id"],
        unique=False,
        postgresql_include=[
            "status",
            "first_time",
            "review_stage",
            "responded_at",
            "town_unit_id",
            "place_unit_id",
            "handling_unit_id",
        ],
    )
    op.create_index(
        "ix_cases_metrics_open",
        "cases",
        ["kind", "received_on", "id"],
        unique=False,
        postgresql_where=sa.text("status NOT IN ('closed', 'declined')"),
        postgresql_include=["place_unit_id", "handling_unit_id", "town_unit_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_metrics_open", table_name="cases")
    op.drop_index("ix_cases_metrics_received", table_name="cases")
    op.drop_index("ix_cases_metrics_closed", table_name="cases")
    op.drop_column("cases", "responded_at")
