"""Plans and their indicators: every target of a work report (政府工作报告目标).

A plan (e.g. 印台区2023年政府工作报告) holds indicators grouped by chapter and category; an
indicator may have dated sub-milestones (e.g. a school relocation finished by the autumn term).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from gov_common.events.targets import IndicatorStatus
from targets_api.db import Base

__all__ = ["Indicator", "IndicatorKind", "IndicatorStatus", "Milestone", "Plan"]


class IndicatorKind(StrEnum):
    AT_LEAST = "at_least"  # ≥ target, counted up over the period (e.g. 1500 public-welfare jobs)
    AT_MOST = "at_most"  # ≤ target, a ceiling that must hold (e.g. unemployment within 4%)
    EXACT = "exact"  # exactly the target
    MILESTONE = "milestone"  # done or not, by a date, optionally with dated sub-milestones
    PERCENTAGE = "percentage"  # a rate that must reach at least the target (e.g. ≥ 80%)


class Plan(Base):
    """A year's catalogue of promises (e.g. the district government work report)."""

    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    year: Mapped[int] = mapped_column(SmallInteger)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # When true, a department's report counts only once the planning office approved it.
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(Text)  # the document the catalogue comes from
    copied_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plans.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Indicator(Base):
    __tablename__ = "indicators"
    __table_args__ = (UniqueConstraint("plan_id", "code", name="uq_indicators_plan_id_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plans.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in the report
    name_zh: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    # The report's own sentence, verbatim, so a reader can check the indicator against it.
    wording_zh: Mapped[str | None] = mapped_column(Text)
    chapter: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    unit: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[IndicatorKind] = mapped_column(str_enum(IndicatorKind, "indicator_kind"))
    baseline: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    target_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    lead_department: Mapped[str | None] = mapped_column(String(100), index=True)  # 牵头单位
    co_departments: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)  # 配合单位
    # One of the ten livelihood projects (民生实事), and which one (1–10).
    livelihood_project: Mapped[bool] = mapped_column(Boolean, default=False)
    livelihood_number: Mapped[int | None] = mapped_column(SmallInteger)
    # Set for indicators fed by events, e.g. "petitions.first_time_grassroots_rate".
    live_source: Mapped[str | None] = mapped_column(String(100))
    # The last computed status, kept so a change can be noticed and published.
    status: Mapped[IndicatorStatus] = mapped_column(
        str_enum(IndicatorStatus, "indicator_status"), default=IndicatorStatus.NOT_STARTED
    )
    last_reminded_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def departments(self) -> list[str]:
        return [d for d in [self.lead_department, *(self.co_departments or [])] if d]


class Milestone(Base):
    """A dated step of an indicator (节点目标)."""

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("indicator_id", "code", name="uq_milestones_indicator_id_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    indicator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_zh: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    due_date: Mapped[date | None] = mapped_column(Date)
