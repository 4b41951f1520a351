"""Progress reports (进展报告): what a department says it has achieved, as of a date.

Reports are never edited: a correction is a new report that names the one it supersedes.
Only the review fields change, when a plan requires the planning office's approval.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from targets_api.db import Base


class ReportState(StrEnum):
    RECORDED = "recorded"  # the plan needs no approval: counts at once
    SUBMITTED = "submitted"  # waits for the planning office
    APPROVED = "approved"
    RETURNED = "returned"  # sent back; the department files a correction


class ProgressReport(Base):
    __tablename__ = "progress_reports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    indicator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("indicators.id"), index=True)
    value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    done: Mapped[bool | None] = mapped_column(Boolean)  # milestone indicators
    milestones_done: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    as_of: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(ARRAY(String(2000)), default=list)
    department: Mapped[str] = mapped_column(String(100))
    # The caller's subject (token ``sub`` or ``api-key:<id>``), never taken from the body.
    reported_by: Mapped[str | None] = mapped_column(String(255))
    # A correction names the report it replaces; the replaced one then no longer counts.
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("progress_reports.id"), unique=True
    )
    state: Mapped[ReportState] = mapped_column(str_enum(ReportState, "report_state"))
    reviewed_by: Mapped[str | None] = mapped_column(String(255))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# States whose reports count towards an indicator's value.
COUNTED_STATES = (ReportState.RECORDED, ReportState.APPROVED)
