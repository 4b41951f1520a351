"""personal data: the re-keying progress

``pii_rekey_progress``: how far ``python -m notifier.rekey run`` got, per target (active data
key / index key id) and table, so it resumes after a crash.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pii_rekey_progress",
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("last_key", sa.Text(), nullable=True),
        sa.Column("rows_rekeyed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("target", "table_name", name=op.f("pk_pii_rekey_progress")),
    )


def downgrade() -> None:
    op.drop_table("pii_rekey_progress")
