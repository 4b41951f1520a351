"""What the plans and indicators API takes and returns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from targets_api.indicators.models import IndicatorKind, IndicatorStatus

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN, description="e.g. yintai-2023")
    name_zh: str = Field(min_length=1, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    year: int = Field(ge=2000, le=2100)
    period_start: date | None = Field(default=None, description="default: 1 January of year")
    period_end: date | None = Field(default=None, description="default: 31 December of year")
    requires_approval: bool = False
    source: str | None = None

    @model_validator(mode="after")
    def _period(self) -> Self:
        self.period_start = self.period_start or date(self.year, 1, 1)
        self.period_end = self.period_end or date(self.year, 12, 31)
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class PlanCopy(BaseModel):
    """Start a new year from this plan's catalogue (targets and dates moved by the years)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    year: int = Field(ge=2000, le=2100)
    name_zh: str | None = Field(default=None, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)


class PlanRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    code: str
    name_zh: str
    name_en: str | None
    year: int
    period_start: date
    period_end: date
    requires_approval: bool
    source: str | None
    copied_from_id: UUID | None


class MilestoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    due_date: date | None = None


class MilestoneRead(MilestoneIn):
    model_config = ConfigDict(from_attributes=True)
    done: bool = False


class IndicatorIn(BaseModel):
    """One indicator as a planner writes it (API body and one entry of a YAML catalogue)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1, max_length=500)
    name_en: str | None = Field(default=None, max_length=500)
    wording_zh: str | None = Field(default=None, description="the report's sentence, verbatim")
    chapter: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=32)
    kind: IndicatorKind
    baseline: Decimal | None = None
    target: Decimal | None = None
    period_start: date | None = Field(default=None, description="default: the plan's")
    period_end: date | None = Field(default=None, description="default: the plan's")
    due_date: date | None = None
    lead_department: str | None = Field(default=None, max_length=100)
    co_departments: list[str] = Field(default_factory=list)
    livelihood_project: bool = False
    livelihood_number: int | None = Field(default=None, ge=1, le=10)
    live_source: str | None = Field(default=None, max_length=100)
    milestones: list[MilestoneIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is IndicatorKind.MILESTONE:
            if self.target is not None:
                raise ValueError("a milestone indicator has no target value; omit target")
        elif self.target is None and self.live_source is None:
            raise ValueError(f"a {self.kind.value} indicator needs a target value")
        if self.milestones and self.kind is not IndicatorKind.MILESTONE:
            raise ValueError("only milestone indicators have sub-milestones")
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        if self.livelihood_number is not None and not self.livelihood_project:
            raise ValueError("livelihood_number is set but livelihood_project is false")
        codes = [m.code for m in self.milestones]
        if len(codes) != len(set(codes)):
            raise ValueError("milestone codes must be unique within the indicator")
        return self


class IndicatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    plan_id: UUID
    code: str
    name_zh: str
    name_en: str | None
    wording_zh: str | None
    chapter: str | None
    category: str | None
    unit: str | None
    kind: IndicatorKind
    baseline: Decimal | None
    target_value: Decimal | None
    period_start: date
    period_end: date
    due_date: date | None
    lead_department: str | None
    co_departments: list[str]
    livelihood_project: bool
    livelihood_number: int | None
    live_source: str | None
    status: IndicatorStatus


class LiveFigure(BaseModel):
    """Where a live indicator's value comes from."""

    source: str
    period_start: date
    period_end: date
    numerator: int
    denominator: int
    definition_versions: list[str]
    metric_url: str
    cases_url: str


class Progress(BaseModel):
    value: Decimal | None
    done: bool | None
    as_of: date | None
    expected_by_now: Decimal | None
    elapsed_share: Decimal
    status: IndicatorStatus


class IndicatorDetail(IndicatorRead):
    milestones: list[MilestoneRead]
    progress: Progress
    live: LiveFigure | None = None
    history: list[dict[str, object]] = Field(
        default_factory=list, description="every progress report, newest first"
    )


class StatusCount(BaseModel):
    status: IndicatorStatus
    count: int


class DepartmentSummary(BaseModel):
    department: str
    total: int
    by_status: dict[str, int]


class LivelihoodProject(BaseModel):
    number: int
    indicators: int
    achieved: int
    by_status: dict[str, int]
    items: list[IndicatorRead]


class Dashboard(BaseModel):
    plan: PlanRead
    total: int
    by_status: dict[str, int]
    by_department: list[DepartmentSummary]
    livelihood_projects: list[LivelihoodProject]
