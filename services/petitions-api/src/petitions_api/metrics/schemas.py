"""What the metrics API returns."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from gov_common.events.petitions import CaseKind, Rating, ResolutionLevel
from petitions_api.cases.lifecycle import CaseStatus
from petitions_api.metrics.periods import Granularity


class UnitBasis(StrEnum):
    """Which unit of a case an org-unit filter looks at."""

    PLACE = "place"  # where the matter arose (属地): the default, and what towns answer for
    HANDLING = "handling"  # the unit handling it now (e.g. a district department)


class KindChoice(StrEnum):
    HOTLINE_TICKET = "hotline_ticket"
    PETITION_CASE = "petition_case"
    ALL = "all"


class DefinitionRead(BaseModel):
    id: str
    version: str
    title: str
    description: str
    period_basis: str | None = Field(description="the case's day that places it in a period")
    period_required: bool
    default_kind: KindChoice
    kind_fixed: bool
    breakdown_by_town: bool
    cases_url: str


class PeriodRead(BaseModel):
    label: str = Field(description="2026-11, 2026-Q4, 2026 or from/to")
    granularity: Granularity
    start: date
    end: date = Field(description="last day, inclusive")
    time_zone: str = "Asia/Shanghai"


class ScopeRead(BaseModel):
    unit: str | None = Field(description="org-unit code: its whole subtree; null: all units")
    unit_basis: UnitBasis
    kind: KindChoice
    caller_scope: str | None = Field(
        default=None,
        description="the caller's org unit: only cases placed or handled in its subtree count",
    )


class TownFigure(BaseModel):
    town_unit_id: str | None = Field(description="镇办 of the case's place; null: not in a town")
    town_name: str | None
    numerator: int | float
    denominator: int
    rate: float | None
    meets_target: bool | None
    cases_url: str


class Figure(BaseModel):
    definition_id: str
    definition_version: str
    title: str
    period: PeriodRead | None
    period_basis: str | None
    as_of: datetime = Field(description="when the figure was computed")
    scope: ScopeRead
    numerator: int | float = Field(description="weighted for the satisfaction rate")
    denominator: int
    rate: float | None = Field(
        description="numerator ÷ denominator, rounded to 6 decimals; null when nothing counted"
    )
    target: float | None = None
    meets_target: bool | None = None
    components: dict[str, int | float] = Field(
        default_factory=dict, description="counts behind the numerator, and weights used"
    )
    cases_url: str = Field(
        description="the cases behind the figure (the denominator; add in_numerator=true for "
        "the numerator's)"
    )
    breakdown: list[TownFigure] | None = None


class MetricCase(BaseModel):
    """One case behind a figure: in the denominator; ``in_numerator`` says whether it also
    counts in the numerator, ``weight`` how much."""

    id: UUID
    case_number: str
    kind: CaseKind
    status: CaseStatus
    received_on: date
    closed_on: date | None
    responded_at: datetime | None
    town_unit_id: str | None
    place_unit_id: str | None
    handling_unit_id: str | None
    resolution_level: ResolutionLevel | None
    first_time: bool
    effective: bool | None
    grassroots: bool | None
    on_time: bool | None
    rating: Rating | None
    in_numerator: bool
    weight: float


class Summary(BaseModel):
    period: PeriodRead
    figures: list[Figure]
