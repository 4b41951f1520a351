"""The calendar's versions: every schedule the service has used for a year, newest last."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Identity,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from petitions_api.db import Base
from petitions_api.deadlines.calendar.sources import CalendarSource


class CalendarVersion(Base):
    """One version of one year's schedule (append-only: the history is the audit).

    ``revision`` orders every version of every year: a clock remembers the revision it was
    computed with and the years it read, and is recomputed when a newer version of one of
    those years appears. Official versions are what people entered; library and provisional
    versions record when the service started to use, or stopped using, a library's data for
    a year (e.g. a new ``chinesecalendar`` release that knows it).
    """

    __tablename__ = "calendar_versions"
    __table_args__ = (UniqueConstraint("year", "version"),)

    revision: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per year
    source: Mapped[CalendarSource] = mapped_column(str_enum(CalendarSource, "calendar_source"))
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date))  # weekdays that are rest days
    make_up_workdays: Mapped[list[date]] = mapped_column(ARRAY(Date))  # weekend working days
    notice: Mapped[str | None] = mapped_column(Text)  # the notice's title or number (文号)
    origin: Mapped[str] = mapped_column(String(200))  # api, a data file, the library, …
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CalendarReconciliation(Base):
    """How far the recompute job has carried the calendar's versions into the clocks: every
    open clock computed before ``revision`` on a year changed at or before it is recomputed.
    One row."""

    __tablename__ = "calendar_reconciliation"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False, default=1)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
