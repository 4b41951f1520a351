"""built-in issuer: the Argon2id hashes that replace an accounts file's older ones on sign-in

``issuer_password_hashes`` holds, per account (kind, id), the hash made on a successful
sign-in against a hash of the first format (scrypt) or with other Argon2 parameters, and the
SHA-256 of the file's hash it replaces (a new hash put in the file wins again). See
gov_common.security.issuer_hashes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issuer_password_hashes",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("replaces_sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("kind", "account_id", name=op.f("pk_issuer_password_hashes")),
    )


def downgrade() -> None:
    op.drop_table("issuer_password_hashes")
