"""An indicator: one target of the work report (工作报告目标), with its kind and values."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, DateTime, Numeric, String, func
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from targets_api.db import Base


class IndicatorKind(StrEnum):
    AT_LEAST = "at_least"  # ≥ target
    AT_MOST = "at_most"  # ≤ target, e.g. unemployment within 4%
    EXACT = "exact"
    MILESTONE = "milestone"  # done or not, by a date
    PERCENTAGE = "percentage"


class Indicator(Base):
    __tablename__ = "indicators"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(500))
    name_en: Mapped[str | None] = mapped_column(String(500))
    chapter: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[IndicatorKind] = mapped_column(str_enum(IndicatorKind, "indicator_kind"))
    baseline: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    target_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    due_date: Mapped[date | None] = mapped_column(Date)
    # One of the ten livelihood projects (民生实事).
    livelihood_project: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
