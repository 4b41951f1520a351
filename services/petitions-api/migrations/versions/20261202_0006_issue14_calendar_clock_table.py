"""calendar: versions of each year's holiday schedule; clocks that remember what they rest on

- ``calendar_versions``: every schedule used for a year (official entries, and when the
  library's or the law's days were taken), ``revision`` ordering them all;
  ``calendar_reconciliation``: how far the recompute job has carried them into the clocks.
- ``case_deadlines`` keeps what each clock is computed from (start day, day count, length,
  extension) and on what (calendar revision, the years read, provisional). Open clocks are
  filled in from their case and marked as computed on revision 0 over every year between
  their start and their due date: the recompute job computes each of them again on the clock
  table's rules at the first start (the version rows recorded then are newer), so a date
  stored by the earlier rules (an extension added to a rolled date, a 2027 date counted
  Monday to Friday) is corrected, with a timeline entry and an event.
- New clock kinds: ``re_review`` (复核, apart from 复查) and ``supervision`` (督办); a running
  督办 gets its clock.
- An alert is per clock, threshold *and due instant*: a moved date is alerted about anew.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("acceptance", "handling", "return", "review", "re_review", "hotline", "supervision")
OLD_KINDS = ("acceptance", "handling", "return", "review", "hotline")
DAY_COUNTS = ("calendar_days", "working_days", "hours", "fixed")
OPEN = "met_at IS NULL AND cancelled_at IS NULL"


def _check(name: str, column: str, values: Sequence[str]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"ALTER TABLE case_deadlines ADD CONSTRAINT {name} CHECK ({column} IN ({listed}))"


def upgrade() -> None:
    op.create_table(
        "calendar_versions",
        sa.Column("revision", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "official",
                "library",
                "provisional",
                name="calendar_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("holidays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("make_up_workdays", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.Column("notice", sa.Text(), nullable=True),
        sa.Column("origin", sa.String(length=200), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column(
            "entered_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("revision", name=op.f("pk_calendar_versions")),
        sa.UniqueConstraint("year", "version", name=op.f("uq_calendar_versions_year")),
    )
    op.create_index(op.f("ix_calendar_versions_year"), "calendar_versions", ["year"])
    op.create_table(
        "calendar_reconciliation",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_reconciliation")),
    )
    op.execute("INSERT INTO calendar_reconciliation (id, revision) VALUES (1, 0)")

    # New kinds (the column is a checked VARCHAR: gov_common.db.str_enum).
    op.execute("ALTER TABLE case_deadlines DROP CONSTRAINT ck_case_deadlines_deadline_kind")
    op.alter_column("case_deadlines", "kind", type_=sa.String(length=11))
    op.execute(_check("ck_case_deadlines_deadline_kind", "kind", KINDS))
    op.execute(
        "UPDATE case_deadlines d SET kind = 're_review' FROM cases c "
        "WHERE c.id = d.case_id AND d.kind = 'review' AND c.review_stage = 're_review'"
    )

    for name, column in (
        ("starts_on", sa.Column("starts_on", sa.Date(), nullable=True)),
        ("day_count", sa.Column("day_count", sa.String(length=13), nullable=True)),
        ("length", sa.Column("length", sa.Integer(), nullable=True)),
        (
            "extension",
            sa.Column("extension", sa.Integer(), server_default=sa.text("0"), nullable=False),
        ),
        (
            "provisional",
            sa.Column("provisional", sa.Boolean(), server_default=sa.false(), nullable=False),
        ),
        (
            "calendar_years",
            sa.Column(
                "calendar_years",
                postgresql.ARRAY(sa.Integer()),
                server_default=sa.text("'{}'"),
                nullable=False,
            ),
        ),
        (
            "calendar_revision",
            sa.Column(
                "calendar_revision", sa.BigInteger(), server_default=sa.text("0"), nullable=False
            ),
        ),
    ):
        del name
        op.add_column("case_deadlines", column)

    # What each clock was computed from, by kind.
    op.execute(
        "UPDATE case_deadlines d SET starts_on = c.received_on, day_count = 'calendar_days', "
        "length = 15 FROM cases c WHERE c.id = d.case_id AND d.kind = 'acceptance'"
    )
    op.execute(
        "UPDATE case_deadlines d "
        "SET starts_on = (d.started_at AT TIME ZONE 'Asia/Shanghai')::date, "
        "day_count = 'calendar_days', "
        "length = 60 WHERE d.kind = 'handling'"
    )
    op.execute(
        "UPDATE case_deadlines d SET starts_on = c.received_on, day_count = 'calendar_days', "
        "length = 30 FROM cases c WHERE c.id = d.case_id AND d.kind IN ('review', 're_review')"
    )
    op.execute(
        "UPDATE case_deadlines d "
        "SET starts_on = (d.started_at AT TIME ZONE 'Asia/Shanghai')::date, "
        "day_count = 'working_days', "
        "length = 5 WHERE d.kind = 'return'"
    )
    op.execute(
        "UPDATE case_deadlines d "
        "SET starts_on = (d.started_at AT TIME ZONE 'Asia/Shanghai')::date, "
        "day_count = 'hours', "
        "length = GREATEST(1, round(extract(epoch FROM d.due_at - d.started_at) / 3600)) "
        "WHERE d.kind = 'hotline' AND d.due_on IS NULL"
    )
    # A working-day ticket clock: its tier's length (the urgent tier's when it was urgent).
    op.execute(
        "UPDATE case_deadlines d "
        "SET starts_on = (d.started_at AT TIME ZONE 'Asia/Shanghai')::date, "
        "day_count = 'working_days', "
        "length = COALESCE(t.working_days, 5) FROM cases c "
        "LEFT JOIN categories g ON g.code = c.category_code "
        "LEFT JOIN hotline_tiers t ON t.code = g.tier_code "
        "WHERE c.id = d.case_id AND d.kind = 'hotline' AND d.due_on IS NOT NULL"
    )
    # An extended running clock: the extension recorded on the case's timeline, which the
    # earlier rules added to the already rolled due date.
    op.execute(
        "UPDATE case_deadlines d SET extension = COALESCE(("
        "SELECT (e.details->>'days')::int FROM case_timeline e "
        "WHERE e.case_id = d.case_id AND e.action = 'extend' ORDER BY e.id DESC LIMIT 1), 0) "
        "FROM cases c WHERE c.id = d.case_id AND c.extended AND d.met_at IS NULL "
        "AND d.cancelled_at IS NULL AND d.kind IN ('handling', 'hotline', 'review')"
    )
    # A running 督办 gets its clock (the due date the supervisor set).
    op.execute(
        "INSERT INTO case_deadlines (case_id, kind, started_at, starts_on, day_count, length, "
        "due_on, due_at) "
        "SELECT c.id, 'supervision', c.updated_at, c.supervision_due_on, 'fixed', 0, "
        "c.supervision_due_on, "
        "((c.supervision_due_on + 1)::timestamp AT TIME ZONE 'Asia/Shanghai') "
        "FROM cases c WHERE c.supervision_due_on IS NOT NULL "
        "AND c.status NOT IN ('closed', 'declined', 'replied', 'rated')"
    )
    # Every year between start and due date: the job computes the open ones again.
    op.execute(
        "UPDATE case_deadlines d SET calendar_years = ARRAY(SELECT generate_series("
        "extract(year FROM d.starts_on)::int, "
        "extract(year FROM COALESCE(d.due_on, d.starts_on))::int + 1)) "
        "WHERE d.day_count IN ('calendar_days', 'working_days')"
    )
    op.alter_column("case_deadlines", "starts_on", nullable=False)
    op.alter_column("case_deadlines", "day_count", nullable=False)
    op.alter_column("case_deadlines", "length", nullable=False)
    op.execute(_check("ck_case_deadlines_day_count", "day_count", DAY_COUNTS))
    op.create_index(
        "ix_case_deadlines_open_calendar_years",
        "case_deadlines",
        ["calendar_years"],
        postgresql_using="gin",
        postgresql_where=sa.text(OPEN),
    )

    op.add_column("deadline_alerts", sa.Column("due_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE deadline_alerts a SET due_at = d.due_at FROM case_deadlines d "
        "WHERE d.id = a.deadline_id"
    )
    op.alter_column("deadline_alerts", "due_at", nullable=False)
    op.drop_constraint("uq_deadline_alerts_deadline_id", "deadline_alerts", type_="unique")
    op.create_unique_constraint(
        "uq_deadline_alerts_deadline_id", "deadline_alerts", ["deadline_id", "threshold", "due_at"]
    )


def downgrade() -> None:
    op.drop_constraint("uq_deadline_alerts_deadline_id", "deadline_alerts", type_="unique")
    op.execute(
        "DELETE FROM deadline_alerts a USING deadline_alerts b WHERE a.deadline_id = "
        "b.deadline_id AND a.threshold = b.threshold AND a.id < b.id"
    )
    op.create_unique_constraint(
        "uq_deadline_alerts_deadline_id", "deadline_alerts", ["deadline_id", "threshold"]
    )
    op.drop_column("deadline_alerts", "due_at")
    op.drop_index("ix_case_deadlines_open_calendar_years", table_name="case_deadlines")
    op.execute("ALTER TABLE case_deadlines DROP CONSTRAINT ck_case_deadlines_day_count")
    for column in (
        "calendar_revision",
        "calendar_years",
        "provisional",
        "extension",
        "length",
        "day_count",
        "starts_on",
    ):
        op.drop_column("case_deadlines", column)
    op.execute(
        "DELETE FROM deadline_alerts WHERE deadline_id IN "
        "(SELECT id FROM case_deadlines WHERE kind = 'supervision')"
    )
    op.execute("DELETE FROM case_deadlines WHERE kind = 'supervision'")
    op.execute("UPDATE case_deadlines SET kind = 'review' WHERE kind = 're_review'")
    op.execute("ALTER TABLE case_deadlines DROP CONSTRAINT ck_case_deadlines_deadline_kind")
    op.alter_column("case_deadlines", "kind", type_=sa.String(length=10))
    op.execute(_check("ck_case_deadlines_deadline_kind", "kind", OLD_KINDS))
    op.drop_table("calendar_reconciliation")
    op.drop_index(op.f("ix_calendar_versions_year"), table_name="calendar_versions")
    op.drop_table("calendar_versions")
