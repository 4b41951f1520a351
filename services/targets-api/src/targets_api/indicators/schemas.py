"""What the indicators API returns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from targets_api.indicators.models import IndicatorKind


class IndicatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    code: str
    name_zh: str
    name_en: str | None
    chapter: str | None
    unit: str | None
    kind: IndicatorKind
    baseline: Decimal | None
    target_value: Decimal | None
    due_date: date | None
    livelihood_project: bool
