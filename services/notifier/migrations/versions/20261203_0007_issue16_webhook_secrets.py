"""recipients: a signing secret per webhook, rotatable with an overlap

Adds ``webhook_secret``, ``webhook_previous_secret`` (both encrypted, context
``recipients/<id>/<field>``) and ``webhook_previous_secret_expires_at``, and gives every
recipient that has a ``webhook_url`` a newly generated ``whsec_…`` secret, encrypted with the
keys of GOV_PII_KEYS / GOV_PII_ACTIVE_KEY: run it with the same settings as the service. The
generated secrets are shown to nobody: an admin rotates each webhook's secret to hand one to
its receiver (docs/runbook.md, "Webhook secrets after the upgrade"). Recipients that already
have a secret are left alone, so a re-run is safe.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gov_common.security.setup import field_cipher
from gov_common.signing import generate_secret
from notifier.config import Settings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("recipients", sa.Column("webhook_secret", sa.Text(), nullable=True))
    op.add_column("recipients", sa.Column("webhook_previous_secret", sa.Text(), nullable=True))
    op.add_column(
        "recipients",
        sa.Column("webhook_previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id FROM recipients WHERE webhook_url IS NOT NULL AND webhook_secret IS NULL"
        )
    ).all()
    if not rows:
        return
    cipher = field_cipher(Settings())
    for start in range(0, len(rows), BATCH):
        for (recipient_id,) in rows[start : start + BATCH]:
            sealed = cipher.encrypt(
                generate_secret(), context=f"recipients/{recipient_id}/webhook_secret"
            )
            bind.execute(
                sa.text("UPDATE recipients SET webhook_secret = :s WHERE id = :id"),
                {"s": sealed, "id": recipient_id},
            )


def downgrade() -> None:
    op.drop_column("recipients", "webhook_previous_secret_expires_at")
    op.drop_column("recipients", "webhook_previous_secret")
    op.drop_column("recipients", "webhook_secret")
