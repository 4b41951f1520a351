"""Payloads of ``targets.indicator-events`` (key = indicator id).

Departments are org-unit codes; events carry no personal data.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from gov_common.events.contracts import TARGETS_INDICATOR_EVENTS, EventType


class IndicatorStatus(StrEnum):
    NOT_STARTED = "not_started"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    OVERDUE = "overdue"
    ACHIEVED = "achieved"


class IndicatorEventBase(BaseModel):
    model_config = ConfigDict(extra="allow")  # consumers tolerate fields added later

    indicator_id: UUID
    indicator_code: str = Field(min_length=1)
    plan_id: UUID
    name_zh: str
    lead_department_id: str | None = Field(default=None, description="牵头单位 org-unit code")
    department_ids: list[str] = Field(
        default_factory=list, description="lead department first, then the co-organisers"
    )
    livelihood_project: bool = Field(default=False, description="one of the 民生实事")
    occurred_at: AwareDatetime


class ProgressReportedV1(IndicatorEventBase):
    report_id: UUID
    department_id: str
    as_of: date
    value: Decimal | None = None
    done: bool | None = None
    state: str = Field(description="recorded | submitted | approved | returned")
    supersedes_report_id: UUID | None = Field(
        default=None, description="the report this correction replaces"
    )


class StatusChangedV1(IndicatorEventBase):
    from_status: IndicatorStatus
    to_status: IndicatorStatus
    value: Decimal | None = None
    expected_by_now: Decimal | None = None
    target_value: Decimal | None = None
    due_date: date | None = None


class AchievedV1(IndicatorEventBase):
    value: Decimal | None = None
    target_value: Decimal | None = None
    achieved_on: date


class ReportOverdueV1(IndicatorEventBase):
    department_id: str
    last_reported_on: date | None = Field(description="as-of date of the last report, if any")
    days_without_report: int = Field(ge=0)
    threshold_days: int = Field(ge=1)


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name="gov.targets.indicator.progress_reported.v1",
        topic=TARGETS_INDICATOR_EVENTS,
        payload=ProgressReportedV1,
        description="A department reported progress (or a correction, or it was reviewed).",
    ),
    EventType(
        name="gov.targets.indicator.status_changed.v1",
        topic=TARGETS_INDICATOR_EVENTS,
        payload=StatusChangedV1,
        description="The computed status of an indicator changed (e.g. on_track → at_risk).",
    ),
    EventType(
        name="gov.targets.indicator.achieved.v1",
        topic=TARGETS_INDICATOR_EVENTS,
        payload=AchievedV1,
        description="An indicator reached its target (or its milestone was completed).",
    ),
    EventType(
        name="gov.targets.indicator.report_overdue.v1",
        topic=TARGETS_INDICATOR_EVENTS,
        payload=ReportOverdueV1,
        description="A responsible department has not reported for the configured number of days.",
    ),
)

__all__ = [
    "EVENT_TYPES",
    "AchievedV1",
    "IndicatorEventBase",
    "IndicatorStatus",
    "ProgressReportedV1",
    "ReportOverdueV1",
    "StatusChangedV1",
]
