"""reference data, case lifecycle, deadlines

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 20:46:56.654975
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
        "hotline_tiers",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=True),
        sa.Column("working_days", sa.Integer(), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_hotline_tiers")),
    )
    op.create_table(
        "org_units",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("short_name", sa.String(length=50), nullable=True),
        sa.Column(
            "level",
            sa.Enum(
                "district",
                "department",
                "town",
                "village",
                name="unit_level",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["org_units.code"], name=op.f("fk_org_units_parent_code_org_units")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_org_units")),
    )
    op.create_index(op.f("ix_org_units_path"), "org_units", ["path"], unique=False)
    op.create_table(
        "reference_versions",
        sa.Column("dataset", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("dataset", name=op.f("pk_reference_versions")),
    )
    op.create_table(
        "categories",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("keywords", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tier_code", sa.String(length=32), nullable=False),
        sa.Column("default_unit", sa.String(length=32), nullable=False),
        sa.Column("by_place", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tier_code"],
            ["hotline_tiers.code"],
            name=op.f("fk_categories_tier_code_hotline_tiers"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_categories")),
    )
    op.create_table(
        "case_deadlines",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "acceptance",
                "handling",
                "return",
                "review",
                "hotline",
                name="deadline_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("met_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_deadlines_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_deadlines")),
    )
    op.create_index(op.f("ix_case_deadlines_case_id"), "case_deadlines", ["case_id"], unique=False)
    op.create_index(
        "ix_case_deadlines_open",
        "case_deadlines",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("met_at IS NULL AND cancelled_at IS NULL"),
    )
    op.create_table(
        "case_timeline",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_timeline_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_timeline")),
    )
    op.create_index(op.f("ix_case_timeline_case_id"), "case_timeline", ["case_id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_idempotency_keys_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "petitioners",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("id_number", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("phone_key", sa.String(length=40), nullable=True),
        sa.Column("id_number_key", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_petitioners_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_petitioners")),
    )
    op.create_index(
        op.f("ix_petitioners_id_number_key"), "petitioners", ["id_number_key"], unique=False
    )
    op.create_index(op.f("ix_petitioners_phone_key"), "petitioners", ["phone_key"], unique=False)
    op.create_table(
        "deadline_alerts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("deadline_id", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.String(length=16), nullable=False),
        sa.Column("emitted", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["deadline_id"],
            ["case_deadlines.id"],
            name=op.f("fk_deadline_alerts_deadline_id_case_deadlines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_alerts")),
        sa.UniqueConstraint(
            "deadline_id", "threshold", name=op.f("uq_deadline_alerts_deadline_id")
        ),
    )
    op.add_column("cases", sa.Column("category_code", sa.String(length=32), nullable=True))
    op.add_column("cases", sa.Column("place_unit_id", sa.String(length=32), nullable=True))
    op.add_column("cases", sa.Column("place_address", sa.String(length=300), nullable=True))
    op.add_column("cases", sa.Column("latitude", sa.Float(), nullable=True))
    op.add_column("cases", sa.Column("longitude", sa.Float(), nullable=True))
    op.add_column("cases", sa.Column("town_unit_id", sa.String(length=32), nullable=True))
    op.add_column("cases", sa.Column("handling_unit_id", sa.String(length=32), nullable=True))
    op.add_column(
        "cases", sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "cases", sa.Column("group_size", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "cases",
        sa.Column(
            "attachments",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("cases", sa.Column("source_client", sa.String(length=100), nullable=True))
    op.add_column("cases", sa.Column("external_ref", sa.String(length=100), nullable=True))
    op.add_column(
        "cases", sa.Column("first_time", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("cases", sa.Column("repeat_of", sa.Uuid(), nullable=True))
    op.add_column("cases", sa.Column("repeat_score", sa.Float(), nullable=True))
    op.add_column(
        "cases",
        sa.Column("repeat_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("cases", sa.Column("parent_case_id", sa.Uuid(), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "review_stage",
            sa.Enum(
                "original",
                "review",
                "re_review",
                name="review_stage",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="original",
            nullable=False,
        ),
    )
    op.add_column(
        "cases",
        sa.Column("review_requested", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "cases", sa.Column("final", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("cases", sa.Column("accepted_on", sa.Date(), nullable=True))
    op.add_column(
        "cases", sa.Column("extended", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column(
        "cases",
        sa.Column(
            "reply_outcome",
            sa.Enum(
                "supported",
                "explained",
                "not_supported",
                name="reply_outcome",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
    )
    op.add_column("cases", sa.Column("replied_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("on_time", sa.Boolean(), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "rating",
            sa.Enum(
                "satisfied",
                "basically_satisfied",
                "dissatisfied",
                name="case_rating",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
    )
    op.add_column("cases", sa.Column("resolution_unit_id", sa.String(length=32), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "resolution_level",
            sa.Enum(
                "district",
                "department",
                "town",
                "village",
                name="resolution_level",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
    )
    op.add_column("cases", sa.Column("grassroots", sa.Boolean(), nullable=True))
    op.add_column("cases", sa.Column("effective", sa.Boolean(), nullable=True))
    op.add_column("cases", sa.Column("resolved_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("closed_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("supervisor_id", sa.String(length=100), nullable=True))
    op.add_column("cases", sa.Column("supervision_due_on", sa.Date(), nullable=True))
    op.alter_column(
        "cases",
        "status",
        existing_type=sa.VARCHAR(length=32),
        type_=sa.String(length=11),
        existing_nullable=False,
    )
    op.create_check_constraint(
        op.f("ck_cases_case_status"),
        "cases",
        "status IN ('registered', 'declined', 'accepted', 'dispatched', 'in_progress', "
        "'replied', 'rated', 'closed')",
    )
    op.create_index(op.f("ix_cases_category_code"), "cases", ["category_code"], unique=False)
    op.create_index("ix_cases_closed_on", "cases", ["closed_on"], unique=False)
    op.create_index("ix_cases_created_at_id", "cases", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_cases_handling_unit_id"), "cases", ["handling_unit_id"], unique=False)
    op.create_index(op.f("ix_cases_place_unit_id"), "cases", ["place_unit_id"], unique=False)
    op.create_index("ix_cases_received_on", "cases", ["received_on"], unique=False)
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_index(op.f("ix_cases_town_unit_id"), "cases", ["town_unit_id"], unique=False)
    op.create_foreign_key(
        op.f("fk_cases_resolution_unit_id_org_units"),
        "cases",
        "org_units",
        ["resolution_unit_id"],
        ["code"],
    )
    op.create_foreign_key(
        op.f("fk_cases_category_code_categories"),
        "cases",
        "categories",
        ["category_code"],
        ["code"],
    )
    op.create_foreign_key(
        op.f("fk_cases_place_unit_id_org_units"), "cases", "org_units", ["place_unit_id"], ["code"]
    )
    op.create_foreign_key(
        op.f("fk_cases_town_unit_id_org_units"), "cases", "org_units", ["town_unit_id"], ["code"]
    )
    op.create_foreign_key(
        op.f("fk_cases_parent_case_id_cases"), "cases", "cases", ["parent_case_id"], ["id"]
    )
    op.create_foreign_key(
        op.f("fk_cases_handling_unit_id_org_units"),
        "cases",
        "org_units",
        ["handling_unit_id"],
        ["code"],
    )
    op.create_foreign_key(op.f("fk_cases_repeat_of_cases"), "cases", "cases", ["repeat_of"], ["id"])


def downgrade() -> None:
    op.drop_constraint(op.f("fk_cases_repeat_of_cases"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_handling_unit_id_org_units"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_parent_case_id_cases"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_town_unit_id_org_units"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_place_unit_id_org_units"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_category_code_categories"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_resolution_unit_id_org_units"), "cases", type_="foreignkey")
    op.drop_index(op.f("ix_cases_town_unit_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_status"), table_name="cases")
    op.drop_index("ix_cases_received_on", table_name="cases")
    op.drop_index(op.f("ix_cases_place_unit_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_handling_unit_id"), table_name="cases")
    op.drop_index("ix_cases_created_at_id", table_name="cases")
    op.drop_index("ix_cases_closed_on", table_name="cases")
    op.drop_index(op.f("ix_cases_category_code"), table_name="cases")
    op.drop_constraint(op.f("ck_cases_case_status"), "cases", type_="check")
    op.alter_column(
        "cases",
        "status",
        existing_type=sa.String(length=11),
        type_=sa.VARCHAR(length=32),
        existing_nullable=False,
    )
    op.drop_column("cases", "supervision_due_on")
    op.drop_column("cases", "supervisor_id")
    op.drop_column("cases", "closed_on")
    op.drop_column("cases", "resolved_on")
    op.drop_column("cases", "effective")
    op.drop_column("cases", "grassroots")
    op.drop_column("cases", "resolution_level")
    op.drop_column("cases", "resolution_unit_id")
    op.drop_column("cases", "rating")
    op.drop_column("cases", "on_time")
    op.drop_column("cases", "replied_on")
    op.drop_column("cases", "reply_outcome")
    op.drop_column("cases", "extended")
    op.drop_column("cases", "accepted_on")
    op.drop_column("cases", "final")
    op.drop_column("cases", "review_requested")
    op.drop_column("cases", "review_stage")
    op.drop_column("cases", "parent_case_id")
    op.drop_column("cases", "repeat_confirmed")
    op.drop_column("cases", "repeat_score")
    op.drop_column("cases", "repeat_of")
    op.drop_column("cases", "first_time")
    op.drop_column("cases", "external_ref")
    op.drop_column("cases", "source_client")
    op.drop_column("cases", "attachments")
    op.drop_column("cases", "group_size")
    op.drop_column("cases", "urgent")
    op.drop_column("cases", "handling_unit_id")
    op.drop_column("cases", "town_unit_id")
    op.drop_column("cases", "longitude")
    op.drop_column("cases", "latitude")
    op.drop_column("cases", "place_address")
    op.drop_column("cases", "place_unit_id")
    op.drop_column("cases", "category_code")
    op.drop_table("deadline_alerts")
    op.drop_index(op.f("ix_petitioners_phone_key"), table_name="petitioners")
    op.drop_index(op.f("ix_petitioners_id_number_key"), table_name="petitioners")
    op.drop_table("petitioners")
    op.drop_table("idempotency_keys")
    op.drop_index(op.f("ix_case_timeline_case_id"), table_name="case_timeline")
    op.drop_table("case_timeline")
    op.drop_index(
        "ix_case_deadlines_open",
        table_name="case_deadlines",
        postgresql_where=sa.text("met_at IS NULL AND cancelled_at IS NULL"),
    )
    op.drop_index(op.f("ix_case_deadlines_case_id"), table_name="case_deadlines")
    op.drop_table("case_deadlines")
    op.drop_table("categories")
    op.drop_table("reference_versions")
    op.drop_index(op.f("ix_org_units_path"), table_name="org_units")
    op.drop_table("org_units")
    op.drop_table("hotline_tiers")
