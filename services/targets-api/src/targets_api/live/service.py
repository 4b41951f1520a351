"""Keeping live figures from consumed events. Called inside the consumer's transaction.

The first-time grassroots resolution rate (初信初访基层有效化解率) of a period follows the
petitions service's definition ``grassroots-v1`` (its version travels in ``case.resolved``):
  first-time 信访 cases closed in the period whose reply came from the grassroots and whose
  call-back rating was satisfied or basically satisfied
  ÷ first-time 信访 cases closed in the period.
12345 hotline tickets and review cases (复查/复核, never first-time) are not counted; a reopened
case is not concluded until it is closed again. Whether a case is first-time follows its
newest event: ``case.repeat_changed`` when an operator links or unlinks a repeat.
Each case's facts are *set* from its newest event, never incremented, so redelivering or
replaying the topic from the start leaves the same figures.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from targets_api.config import Settings
from targets_api.live.models import CaseEventTally, CaseFact

FIRST_TIME_GRASSROOTS_RATE = "petitions.first_time_grassroots_rate"
LIVE_SOURCES = frozenset({FIRST_TIME_GRASSROOTS_RATE})

CASE_CREATED = "gov.petitions.case.created.v1"
CASE_RESOLVED = "gov.petitions.case.resolved.v1"
CASE_CLOSED = "gov.petitions.case.closed.v1"
PETITION_CASE = "petition_case"
EFFECTIVE_RATINGS = ("satisfied", "basically_satisfied")
CASE_REOPENED = "gov.petitions.case.reopened.v1"
# A repeat link made, confirmed or removed: the case's first_time after the decision.
CASE_REPEAT_CHANGED = "gov.petitions.case.repeat_changed.v1"


async def count_case_event(session: AsyncSession, event_type: str, at: datetime) -> None:
    statement = insert(CaseEventTally).values(event_type=event_type, count=1, last_event_at=at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CaseEventTally.event_type],
            set_={
                "count": CaseEventTally.count + 1,
                "last_event_at": statement.excluded.last_event_at,
            },
        )
    )


async def case_event_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(CaseEventTally.event_type, CaseEventTally.count))
    return {event_type: count for event_type, count in rows.all()}


async def apply_case_event(
    session: AsyncSession, event_type: str, data: dict[str, Any], at: datetime
) -> bool:
    """Update the case's facts from one event; False when it changes nothing (not relevant,
    or older than what was already applied)."""
    changes: dict[str, Any]
    if event_type == CASE_CREATED:
        changes = {}
        if data.get("first_time") is not None:
            changes["first_time"] = bool(data["first_time"])
    elif event_type == CASE_RESOLVED:
        changes = {
            "resolved_on": date.fromisoformat(str(data["resolved_on"])),
            "grassroots": bool(data["grassroots"]),
            "effective": bool(data["effective"]),
            "resolution_level": str(data.get("resolution_level") or "") or None,
            "definition_version": str(data.get("definition_version") or "") or None,
        }
        if data.get("first_time") is not None:
            changes["first_time"] = bool(data["first_time"])
    elif event_type == CASE_CLOSED:
        changes = {
            "closed_on": date.fromisoformat(str(data["closed_on"])),
            "rating": data.get("rating"),
        }
        if data.get("first_time") is not None:
            changes["first_time"] = bool(data["first_time"])
    elif event_type == CASE_REOPENED:
        changes = {
            "resolved_on": None,
            "grassroots": None,
            "effective": None,
            "resolution_level": None,
            "definition_version": None,
            "closed_on": None,
            "rating": None,
        }
        if data.get("first_time") is not None:
            changes["first_time"] = bool(data["first_time"])
    elif event_type == CASE_REPEAT_CHANGED:
        changes = {"first_time": bool(data["first_time"])}
    else:
        return False
    if data.get("kind") is not None:
        changes["kind"] = str(data["kind"])
    case_id = uuid.UUID(str(data["case_id"]))
    statement = insert(CaseFact).values(
        case_id=case_id, case_number=str(data["case_number"]), last_event_at=at, **changes
    )
    # Only a newer (or equally new) event overwrites: a late, older one cannot undo a reopen.
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CaseFact.case_id],
            set_={**{k: statement.excluded[k] for k in changes}, "last_event_at": at},
            where=CaseFact.last_event_at <= at,
        ).returning(CaseFact.case_id)
    )
    return result.first() is not None


@dataclass(frozen=True)
class RateFigure:
    period_start: date
    period_end: date
    numerator: int
    denominator: int
    definition_versions: list[str]

    @property
    def percent(self) -> Decimal | None:
        if self.denominator == 0:
            return None
        return (Decimal(100) * self.numerator / self.denominator).quantize(Decimal("0.01"))


async def first_time_grassroots_rate(session: AsyncSession, start: date, end: date) -> RateFigure:
    in_period = and_(
        CaseFact.kind == PETITION_CASE,
        CaseFact.first_time.is_(True),
        CaseFact.closed_on.is_not(None),
        CaseFact.closed_on >= start,
        CaseFact.closed_on <= end,
    )
    counted = and_(CaseFact.grassroots.is_(True), CaseFact.rating.in_(EFFECTIVE_RATINGS))
    row = (
        await session.execute(select(func.count(), func.count().filter(counted)).where(in_period))
    ).one()
    versions = (
        await session.scalars(
            select(CaseFact.definition_version)
            .where(in_period, CaseFact.definition_version.is_not(None))
            .distinct()
        )
    ).all()
    return RateFigure(start, end, int(row[1]), int(row[0]), sorted(v for v in versions if v))


def source_links(settings: Settings, start: date, end: date) -> tuple[str, str]:
    """The petitions metric and its case list for the period (URL templates from settings)."""
    values = {"base": settings.petitions_base_url.rstrip("/"), "start": start, "end": end}
    return (
        settings.petitions_metric_url.format(**values),
        settings.petitions_cases_url.format(**values),
    )
