"""Figures kept live from other services' events.

``CaseEventTally`` counts consumed case events by type. ``CaseFact`` keeps, per case, what the
first-time grassroots resolution rate needs. It holds the *state* the case's events lead to
(set, never incremented), so a redelivered or replayed event cannot count twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from targets_api.db import Base


class CaseEventTally(Base):
    __tablename__ = "case_event_tallies"

    event_type: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseFact(Base):
    __tablename__ = "case_facts"

    case_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64))
    first_time: Mapped[bool | None] = mapped_column(Boolean)  # 初信初访
    # Set by case.resolved, cleared by case.reopened (a reopened case is not resolved).
    resolved_on: Mapped[date | None] = mapped_column(Date, index=True)
    grassroots: Mapped[bool | None] = mapped_column(Boolean)
    effective: Mapped[bool | None] = mapped_column(Boolean)
    resolution_level: Mapped[str | None] = mapped_column(String(32))
    definition_version: Mapped[str | None] = mapped_column(String(32))
    # From case.created / every lifecycle event: only 信访 cases (petition_case) count.
    kind: Mapped[str | None] = mapped_column(String(32))
    # Set by case.closed (办结) with the call-back rating, cleared by case.reopened.
    closed_on: Mapped[date | None] = mapped_column(Date, index=True)
    rating: Mapped[str | None] = mapped_column(String(32))
    # The newest event applied; an older one arriving late changes nothing.
    last_event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
