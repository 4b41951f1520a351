"""api keys, personal-data access log, recipients' addresses and robot secrets encrypted

Encrypts, in place, every recipient address (phone, email, webhook_url, wecom_webhook_url,
dingtalk_webhook_url) and the DingTalk secret (context ``recipients/<id>/<field>``), and the
address each delivery was sent to (``deliveries/<id>/recipient``), with the keys of
GOV_PII_KEYS / GOV_PII_ACTIVE_KEY: run it with the same settings as the service. Values already
encrypted are left alone, so a re-run after a partial failure is safe.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 21:19:04.800341
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from gov_common.security.audit import append_only_ddl
from gov_common.security.crypto import FieldCipher
from gov_common.security.setup import field_cipher
from notifier.config import Settings

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Old widths, for the downgrade.
RECIPIENT_FIELDS = {
    "phone": 32,
    "email": 320,
    "webhook_url": 2000,
    "wecom_webhook_url": 2000,
    "dingtalk_webhook_url": 2000,
    "dingtalk_secret": 200,
}
SEALED = re.compile(r"v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_=-]+")
BATCH = 1000


def _cipher() -> FieldCipher:
    return field_cipher(Settings())


def _rewrite(table: str, fields: list[str], change: Callable[[str, str, str], str | None]) -> None:
    """Apply ``change(row id, field, value)`` to every non-null value, in batches by id."""
    bind = op.get_bind()
    columns = ", ".join(fields)
    last = None
    while True:
        where = "WHERE id > :last" if last is not None else ""
        rows = bind.execute(
            sa.text(f"SELECT id, {columns} FROM {table} {where} ORDER BY id LIMIT {BATCH}"),  # noqa: S608
            {"last": last},
        ).all()
        if not rows:
            return
        for row in rows:
            values = {}
            for field, value in zip(fields, row[1:], strict=True):
                if value is not None:
                    new = change(str(row[0]), field, value)
                    if new is not None:
                        values[field] = new
            if values:
                assignments = ", ".join(f"{f} = :{f}" for f in values)
                bind.execute(
                    sa.text(f"UPDATE {table} SET {assignments} WHERE id = :id"),  # noqa: S608
                    {**values, "id": row[0]},
                )
        last = rows[-1][0]


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
    op.create_table(
        "personal_data_access_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("roles", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=200), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_access_log")),
    )
    for statement in append_only_ddl("personal_data_access_log"):
        op.execute(statement)

    # Ciphertexts are longer than the values: the columns become text first.
    op.alter_column(
        "deliveries",
        "recipient",
        existing_type=sa.String(length=500),
        type_=sa.Text(),
        existing_nullable=False,
    )
    for field, width in RECIPIENT_FIELDS.items():
        op.alter_column(
            "recipients",
            field,
            existing_type=sa.String(length=width),
            type_=sa.Text(),
            existing_nullable=True,
        )

    cipher = _cipher()

    def seal(context: str, value: str) -> str | None:
        return None if SEALED.fullmatch(value) else cipher.encrypt(value, context=context)

    _rewrite(
        "recipients",
        list(RECIPIENT_FIELDS),
        lambda rid, field, value: seal(f"recipients/{rid}/{field}", value),
    )
    _rewrite(
        "deliveries",
        ["recipient"],
        lambda did, _, value: seal(f"deliveries/{did}/recipient", value),
    )


def downgrade() -> None:
    cipher = _cipher()

    def unseal(context: str, value: str) -> str | None:
        return cipher.decrypt(value, context=context) if SEALED.fullmatch(value) else None

    _rewrite(
        "deliveries",
        ["recipient"],
        lambda did, _, value: unseal(f"deliveries/{did}/recipient", value),
    )
    _rewrite(
        "recipients",
        list(RECIPIENT_FIELDS),
        lambda rid, field, value: unseal(f"recipients/{rid}/{field}", value),
    )
    for field, width in RECIPIENT_FIELDS.items():
        op.alter_column(
            "recipients",
            field,
            existing_type=sa.Text(),
            type_=sa.String(length=width),
            existing_nullable=True,
        )
    op.alter_column(
        "deliveries",
        "recipient",
        existing_type=sa.Text(),
        type_=sa.String(length=500),
        existing_nullable=False,
    )
    op.drop_table("personal_data_access_log")
    op.execute("DROP FUNCTION IF EXISTS personal_data_access_log_append_only()")
    op.drop_table("api_keys")
