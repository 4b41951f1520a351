"""Registrations' idempotency keys on gov_common.idempotency

``idempotency_keys`` gains ``response_location`` (the column set of
``gov_common.idempotency.IdempotencyKeyMixin``); the rows remembered before get the URL of the
case they created. Request digests are now keyed (HMAC under ``GOV_PII_INDEX_KEY``); rows
stored with the former plain SHA-256 still replay until the retention job prunes them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "idempotency_keys", sa.Column("response_location", sa.String(length=500), nullable=True)
    )
    op.execute(
        "UPDATE idempotency_keys SET response_location = '/v1/cases/' || case_id "
        "WHERE case_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("idempotency_keys", "response_location")
