"""The events an indicator publishes (contracts in gov_common.events.targets)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import new_event
from gov_common.events.registry import TARGETS_INDICATOR_EVENTS
from gov_common.events.targets import (
    AchievedV1,
    IndicatorStatus,
    ProgressReportedV1,
    ReportOverdueV1,
    StatusChangedV1,
)
from gov_common.messaging.outbox import add_to_outbox
from targets_api.config import Settings
from targets_api.db import OutboxMessage
from targets_api.indicators.models import Indicator

PROGRESS_REPORTED = "gov.targets.indicator.progress_reported.v1"
STATUS_CHANGED = "gov.targets.indicator.status_changed.v1"
ACHIEVED = "gov.targets.indicator.achieved.v1"
REPORT_OVERDUE = "gov.targets.indicator.report_overdue.v1"


def _base(indicator: Indicator) -> dict[str, Any]:
    return {
        "indicator_id": indicator.id,
        "indicator_code": indicator.code,
        "plan_id": indicator.plan_id,
        "name_zh": indicator.name_zh,
        "lead_department_id": indicator.lead_department,
        "department_ids": indicator.departments,
        "livelihood_project": indicator.livelihood_project,
        "occurred_at": datetime.now(UTC),
    }


async def publish(
    session: AsyncSession,
    settings: Settings,
    indicator: Indicator,
    event_type: str,
    payload: Any,
) -> None:
    """Write the event to the outbox in the caller's transaction (key = indicator id)."""
    await add_to_outbox(
        session,
        OutboxMessage,
        topic=settings.topic(TARGETS_INDICATOR_EVENTS),
        key=str(indicator.id),
        event=new_event(
            source=settings.event_source,
            type=event_type,
            subject=str(indicator.id),
            data=payload,
        ),
    )


def progress_reported(indicator: Indicator, **fields: Any) -> ProgressReportedV1:
    return ProgressReportedV1(**_base(indicator), **fields)


def status_changed(
    indicator: Indicator,
    *,
    from_status: IndicatorStatus,
    to_status: IndicatorStatus,
    value: Decimal | None,
    expected_by_now: Decimal | None,
) -> StatusChangedV1:
    return StatusChangedV1(
        **_base(indicator),
        from_status=from_status,
        to_status=to_status,
        value=value,
        expected_by_now=expected_by_now,
        target_value=indicator.target_value,
        due_date=indicator.due_date or indicator.period_end,
    )


def achieved(indicator: Indicator, *, value: Decimal | None, on: date) -> AchievedV1:
    return AchievedV1(
        **_base(indicator), value=value, target_value=indicator.target_value, achieved_on=on
    )


def report_overdue(
    indicator: Indicator,
    *,
    department: str,
    last_reported_on: date | None,
    days: int,
    threshold_days: int,
) -> ReportOverdueV1:
    return ReportOverdueV1(
        **_base(indicator),
        department_id=department,
        last_reported_on=last_reported_on,
        days_without_report=days,
        threshold_days=threshold_days,
    )
