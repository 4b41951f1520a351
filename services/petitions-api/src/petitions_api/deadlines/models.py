"""The clocks of a case and the alerts already sent about them."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from gov_common.events.petitions import DeadlineKind
from petitions_api.db import Base


class CaseDeadline(Base):
    """One clock: open until met (the step was done) or cancelled (superseded, e.g. extended)."""

    __tablename__ = "case_deadlines"
    __table_args__ = (
        # The sweep scans only open clocks, ordered by when they fall due.
        Index(
            "ix_case_deadlines_open",
            "due_at",
            postgresql_where=text("met_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[DeadlineKind] = mapped_column(str_enum(DeadlineKind, "deadline_kind"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeadlineAlert(Base):
    """A due-soon or overdue alert for one clock and threshold. The unique key is what makes
    the sweep emit each alert once, however many sweepers run and however often."""

    __tablename__ = "deadline_alerts"
    __table_args__ = (UniqueConstraint("deadline_id", "threshold"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id"))
    threshold: Mapped[str] = mapped_column(String(16))
    # False when a tighter threshold was crossed at the same sweep: recorded, not announced.
    emitted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
