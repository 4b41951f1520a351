"""api keys; report authors are the callers' subjects (wider columns)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 21:17:45.152736
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("org_unit", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    # reported_by / reviewed_by now hold the token's subject, which may be longer than 100.
    for column in ("reported_by", "reviewed_by"):
        op.alter_column(
            "progress_reports",
            column,
            type_=sa.String(length=255),
            existing_type=sa.String(length=100),
            existing_nullable=True,
        )


def downgrade() -> None:
    for column in ("reported_by", "reviewed_by"):
        op.alter_column(
            "progress_reports",
            column,
            type_=sa.String(length=100),
            existing_type=sa.String(length=255),
            existing_nullable=True,
        )
    op.drop_table("api_keys")
