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
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from gov_common.events.petitions import DeadlineKind
from petitions_api.db import Base
from petitions_api.deadlines.clocks import DayCount


class CaseDeadline(Base):
    """One clock: open until met (the step was done) or cancelled (superseded, e.g. extended).

    A clock keeps what it was computed from (start, day count, length, extension) and on what
    (the calendar ``revision`` and the ``calendar_years`` whose days it read), so that it is
    computed again when one of those years' schedule changes (``deadlines.recompute``).
    """

    __tablename__ = "case_deadlines"
    __table_args__ = (
        # The sweep scans only open clocks, ordered by when they fall due.
        Index(
            "ix_case_deadlines_open",
            "due_at",
            postgresql_where=text("met_at IS NULL AND cancelled_at IS NULL"),
        ),
        # The recompute job finds the open clocks that rest on a year whose schedule changed.
        Index(
            "ix_case_deadlines_open_calendar_years",
            "calendar_years",
            postgresql_using="gin",
            postgresql_where=text("met_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[DeadlineKind] = mapped_column(str_enum(DeadlineKind, "deadline_kind"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    starts_on: Mapped[date] = mapped_column(Date)  # the day the period is counted from
    day_count: Mapped[DayCount] = mapped_column(str_enum(DayCount, "day_count"))
    length: Mapped[int] = mapped_column(Integer)
    extension: Mapped[int] = mapped_column(Integer, default=0)  # in the same day count
    due_on: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    calendar_years: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    calendar_revision: Mapped[int] = mapped_column(BigInteger, default=0)
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DeadlineAlert(Base):
    """A due-soon or overdue alert for one clock, due instant and threshold. The unique key is
    what makes the sweep emit each alert once, however many sweepers run and however often;
    a clock whose date moved (``deadline_changed``) is alerted about its new date."""

    __tablename__ = "deadline_alerts"
    __table_args__ = (UniqueConstraint("deadline_id", "threshold", "due_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("case_deadlines.id"))
    threshold: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # False when a tighter threshold was crossed at the same sweep: recorded, not announced.
    emitted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
