"""case facts: kind, closing day and rating, to follow petitions' grassroots-v1 definition

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_facts", sa.Column("kind", sa.String(length=32), nullable=True))
    op.add_column("case_facts", sa.Column("closed_on", sa.Date(), nullable=True))
    op.add_column("case_facts", sa.Column("rating", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_case_facts_closed_on"), "case_facts", ["closed_on"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_facts_closed_on"), table_name="case_facts")
    op.drop_column("case_facts", "rating")
    op.drop_column("case_facts", "closed_on")
    op.drop_column("case_facts", "kind")
