"""recipients rules templates outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:46:16.450704
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=249), nullable=False),
        sa.Column("message_key", sa.String(length=200), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "person", "group", name="recipient_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=200), nullable=True),
        sa.Column("org_unit_id", sa.String(length=100), nullable=True),
        sa.Column("roles", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("wecom_webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("dingtalk_webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("dingtalk_secret", sa.String(length=200), nullable=True),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipients")),
        sa.UniqueConstraint("user_id", name=op.f("uq_recipients_user_id")),
    )
    op.create_index(op.f("ix_recipients_org_unit_id"), "recipients", ["org_unit_id"], unique=False)
    op.create_table(
        "templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("locale", sa.String(length=20), nullable=False),
        sa.Column("variants", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_templates_name")),
    )
    op.create_index(op.f("ix_templates_event_type"), "templates", ["event_type"], unique=False)
    op.create_table(
        "rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recipients", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=20)), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name=op.f("fk_rules_template_id_templates"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_rules_name")),
    )
    op.create_index(op.f("ix_rules_event_type"), "rules", ["event_type"], unique=False)
    op.create_index(op.f("ix_rules_template_id"), "rules", ["template_id"], unique=False)
    op.add_column("deliveries", sa.Column("rule_id", sa.Uuid(), nullable=True))
    op.add_column("deliveries", sa.Column("recipient_id", sa.Uuid(), nullable=True))
    op.add_column(
        "deliveries", sa.Column("urgent", sa.Boolean(), server_default="false", nullable=False)
    )
    op.create_index(
        op.f("ix_deliveries_recipient_id"), "deliveries", ["recipient_id"], unique=False
    )
    op.create_index(op.f("ix_deliveries_rule_id"), "deliveries", ["rule_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_rule_id"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_recipient_id"), table_name="deliveries")
    op.drop_column("deliveries", "urgent")
    op.drop_column("deliveries", "recipient_id")
    op.drop_column("deliveries", "rule_id")
    op.drop_index(op.f("ix_rules_template_id"), table_name="rules")
    op.drop_index(op.f("ix_rules_event_type"), table_name="rules")
    op.drop_table("rules")
    op.drop_index(op.f("ix_templates_event_type"), table_name="templates")
    op.drop_table("templates")
    op.drop_index(op.f("ix_recipients_org_unit_id"), table_name="recipients")
    op.drop_table("recipients")
    op.drop_index(
        "ix_outbox_unsent", table_name="outbox", postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_table("outbox")
