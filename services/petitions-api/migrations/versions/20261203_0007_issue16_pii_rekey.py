"""personal data: the blind-index key id of each petitioner's indexes, the re-keying progress

- ``petitioners.index_key_id``: which blind-index key (GOV_PII_INDEX_KEY_ID) made the row's
  phone and ID-number hashes; NULL for rows written before it was recorded (the re-keying job
  rebuilds those under the current key and names it).
- ``pii_rekey_progress``: how far ``python -m petitions_api.rekey run`` got, per target (active
  data key / index key id) and table, so it resumes after a crash.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("petitioners", sa.Column("index_key_id", sa.String(length=32), nullable=True))
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
    op.drop_column("petitioners", "index_key_id")
