"""信访 procedure: two-step acceptance, requests waiting on a decision, 检举控告, review routing

- ``case_deadlines.kind`` may be ``forwarding``: the 信访部门's 15 days to forward or assign a
  registered 信访 case (转送/交办, 《信访工作条例》第二十二条). A registered 信访 case's open
  ``acceptance`` clock (the first release started it at registration) becomes ``forwarding``:
  the organ's own acceptance clock starts when the case reaches it.
- ``cases.accused_unit_id`` (检举控告), ``decision_notified_on`` / ``decision_notice_means``
  (书面告知 of the acceptance decision) and ``decline_route`` (the statutory route of a decline).
- ``case_requests``: a unit's request to return a case or extend it, until decided.
- Open 复查/复核 cases registered before routing existed get the organ above the unit that
  replied to the reviewed case (its org unit's parent), as new ones do.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("acceptance", "handling", "return", "review", "re_review", "hotline", "supervision")
NEW_KINDS = ("forwarding", *KINDS)
ROUTES = (
    "litigation_related",
    "litigation",
    "arbitration",
    "administrative_reconsideration",
    "other_administrative_procedure",
    "party_discipline",
    "concluded_by_re_review",
    "not_a_petition_matter",
)
MEANS = ("in_person", "post", "online", "sms")


def _kinds(values: Sequence[str]) -> None:
    listed = ", ".join(f"'{v}'" for v in values)
    op.execute("ALTER TABLE case_deadlines DROP CONSTRAINT ck_case_deadlines_deadline_kind")
    op.execute(
        "ALTER TABLE case_deadlines ADD CONSTRAINT ck_case_deadlines_deadline_kind "
        f"CHECK (kind IN ({listed}))"
    )


def _enum(values: Sequence[str], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def upgrade() -> None:
    _kinds(NEW_KINDS)
    op.execute(
        "UPDATE case_deadlines d SET kind = 'forwarding' FROM cases c "
        "WHERE c.id = d.case_id AND d.kind = 'acceptance' AND c.kind = 'petition_case' "
        "AND c.status = 'registered' AND c.review_stage = 'original'"
    )
    op.add_column(
        "cases",
        sa.Column(
            "accused_unit_id",
            sa.String(length=32),
            sa.ForeignKey("org_units.code", name=op.f("fk_cases_accused_unit_id_org_units")),
            nullable=True,
        ),
    )
    op.create_index(op.f("ix_cases_accused_unit_id"), "cases", ["accused_unit_id"])
    op.add_column("cases", sa.Column("decision_notified_on", sa.Date(), nullable=True))
    op.add_column(
        "cases", sa.Column("decision_notice_means", _enum(MEANS, "notice_means"), nullable=True)
    )
    op.add_column(
        "cases", sa.Column("decline_route", _enum(ROUTES, "decline_route"), nullable=True)
    )
    op.create_table(
        "case_requests",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum(("return", "extension"), "case_request_kind"), nullable=False),
        sa.Column("unit_id", sa.String(length=32), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_requests_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.code"], name=op.f("fk_case_requests_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_requests")),
    )
    op.create_index(op.f("ix_case_requests_case_id"), "case_requests", ["case_id"])
    op.create_index(
        "uq_case_requests_open",
        "case_requests",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("decided_at IS NULL"),
    )
    # Open reviews registered before routing: the organ above the unit that replied.
    op.execute(
        "UPDATE cases r SET handling_unit_id = u.parent_code FROM cases p, org_units u "
        "WHERE r.parent_case_id = p.id AND r.status = 'registered' "
        "AND r.handling_unit_id IS NULL "
        "AND u.code = COALESCE(p.resolution_unit_id, p.handling_unit_id) "
        "AND u.parent_code IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("uq_case_requests_open", table_name="case_requests")
    op.drop_index(op.f("ix_case_requests_case_id"), table_name="case_requests")
    op.drop_table("case_requests")
    op.drop_column("cases", "decline_route")
    op.drop_column("cases", "decision_notice_means")
    op.drop_column("cases", "decision_notified_on")
    op.drop_index(op.f("ix_cases_accused_unit_id"), table_name="cases")
    op.drop_column("cases", "accused_unit_id")
    op.execute("UPDATE case_deadlines SET kind = 'acceptance' WHERE kind = 'forwarding'")
    _kinds(KINDS)
