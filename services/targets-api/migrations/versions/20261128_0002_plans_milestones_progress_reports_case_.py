"""plans, milestones, progress reports, case facts, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:44:04.444270
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
        "case_facts",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("first_time", sa.Boolean(), nullable=True),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("grassroots", sa.Boolean(), nullable=True),
        sa.Column("effective", sa.Boolean(), nullable=True),
        sa.Column("resolution_level", sa.String(length=32), nullable=True),
        sa.Column("definition_version", sa.String(length=32), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_facts")),
    )
    op.create_index(op.f("ix_case_facts_resolved_on"), "case_facts", ["resolved_on"], unique=False)
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
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=True),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("copied_from_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["copied_from_id"], ["plans.id"], name=op.f("fk_plans_copied_from_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
    )
    op.create_table(
        "milestones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("indicator_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_milestones_indicator_id_indicators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_milestones")),
        sa.UniqueConstraint("indicator_id", "code", name="uq_milestones_indicator_id_code"),
    )
    op.create_index(
        op.f("ix_milestones_indicator_id"), "milestones", ["indicator_id"], unique=False
    )
    op.create_table(
        "progress_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("indicator_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=True),
        sa.Column("milestones_done", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", postgresql.ARRAY(sa.String(length=2000)), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("reported_by", sa.String(length=100), nullable=True),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "recorded",
                "submitted",
                "approved",
                "returned",
                name="report_state",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_progress_reports_indicator_id_indicators"),
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["progress_reports.id"],
            name=op.f("fk_progress_reports_supersedes_id_progress_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_reports")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_progress_reports_supersedes_id")),
    )
    op.create_index(
        op.f("ix_progress_reports_indicator_id"), "progress_reports", ["indicator_id"], unique=False
    )
    # 0001 had no way to create indicators, so the table is empty; the NOT NULL columns below
    # need no backfill (the migration fails loudly rather than invent a plan if rows exist).
    op.add_column("indicators", sa.Column("plan_id", sa.Uuid(), nullable=False))
    op.add_column(
        "indicators", sa.Column("position", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("indicators", sa.Column("wording_zh", sa.Text(), nullable=True))
    op.add_column("indicators", sa.Column("category", sa.String(length=100), nullable=True))
    op.add_column("indicators", sa.Column("period_start", sa.Date(), nullable=False))
    op.add_column("indicators", sa.Column("period_end", sa.Date(), nullable=False))
    op.add_column("indicators", sa.Column("lead_department", sa.String(length=100), nullable=True))
    op.add_column(
        "indicators",
        sa.Column(
            "co_departments",
            postgresql.ARRAY(sa.String(length=100)),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column("indicators", sa.Column("livelihood_number", sa.SmallInteger(), nullable=True))
    op.add_column("indicators", sa.Column("live_source", sa.String(length=100), nullable=True))
    op.add_column(
        "indicators",
        sa.Column(
            "status",
            sa.Enum(
                "not_started",
                "on_track",
                "at_risk",
                "off_track",
                "overdue",
                "achieved",
                name="indicator_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="not_started",
            nullable=False,
        ),
    )
    op.add_column("indicators", sa.Column("last_reminded_on", sa.Date(), nullable=True))
    op.drop_constraint(op.f("uq_indicators_code"), "indicators", type_="unique")
    op.create_index(op.f("ix_indicators_category"), "indicators", ["category"], unique=False)
    op.create_index(
        op.f("ix_indicators_lead_department"), "indicators", ["lead_department"], unique=False
    )
    op.create_index(op.f("ix_indicators_plan_id"), "indicators", ["plan_id"], unique=False)
    op.create_unique_constraint("uq_indicators_plan_id_code", "indicators", ["plan_id", "code"])
    op.create_foreign_key(
        op.f("fk_indicators_plan_id_plans"), "indicators", "plans", ["plan_id"], ["id"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_indicators_plan_id_plans"), "indicators", type_="foreignkey")
    op.drop_constraint("uq_indicators_plan_id_code", "indicators", type_="unique")
    op.drop_index(op.f("ix_indicators_plan_id"), table_name="indicators")
    op.drop_index(op.f("ix_indicators_lead_department"), table_name="indicators")
    op.drop_index(op.f("ix_indicators_category"), table_name="indicators")
    op.create_unique_constraint(op.f("uq_indicators_code"), "indicators", ["code"])
    op.drop_column("indicators", "last_reminded_on")
    op.drop_column("indicators", "status")
    op.drop_column("indicators", "live_source")
    op.drop_column("indicators", "livelihood_number")
    op.drop_column("indicators", "co_departments")
    op.drop_column("indicators", "lead_department")
    op.drop_column("indicators", "period_end")
    op.drop_column("indicators", "period_start")
    op.drop_column("indicators", "category")
    op.drop_column("indicators", "wording_zh")
    op.drop_column("indicators", "position")
    op.drop_column("indicators", "plan_id")
    op.drop_index(op.f("ix_progress_reports_indicator_id"), table_name="progress_reports")
    op.drop_table("progress_reports")
    op.drop_index(op.f("ix_milestones_indicator_id"), table_name="milestones")
    op.drop_table("milestones")
    op.drop_table("plans")
    op.drop_index(
        "ix_outbox_unsent", table_name="outbox", postgresql_where=sa.text("sent_at IS NULL")
    )
    op.drop_table("outbox")
    op.drop_index(op.f("ix_case_facts_resolved_on"), table_name="case_facts")
    op.drop_table("case_facts")
