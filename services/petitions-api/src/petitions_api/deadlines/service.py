"""Opening, meeting and cancelling a case's clocks, and the due-soon/overdue sweep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import petitions as contracts
from gov_common.events.petitions import DeadlineKind
from petitions_api.cases import events
from petitions_api.cases.models import Case
from petitions_api.config import Settings
from petitions_api.deadlines.calendar.models import CalendarVersion
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import ClockSpec, Due, compute
from petitions_api.deadlines.days import parse_threshold
from petitions_api.deadlines.models import CaseDeadline, DeadlineAlert


def clock_values(spec: ClockSpec, due: Due) -> dict[str, object]:
    """The columns of a clock's row: what it was computed from, and the result."""
    return {
        "kind": spec.kind,
        "started_at": spec.started_at,
        "starts_on": spec.starts_on,
        "day_count": spec.day_count,
        "length": spec.length,
        "extension": spec.extension,
        "due_on": due.due_on,
        "due_at": due.due_at,
        "provisional": due.provisional,
        "calendar_years": list(due.years),
        "calendar_revision": due.revision,
    }


def spec_of(clock: CaseDeadline) -> ClockSpec:
    return ClockSpec(
        kind=clock.kind,
        started_at=clock.started_at,
        starts_on=clock.starts_on,
        day_count=clock.day_count,
        length=clock.length,
        extension=clock.extension,
    )


async def open_deadline(
    session: AsyncSession,
    case_id: uuid.UUID,
    spec: ClockSpec,
    calendar: WorkingCalendar,
    *,
    at: datetime | None = None,
) -> CaseDeadline:
    """Start a clock; any open clock of the same kind is superseded (cancelled) at ``at``
    (default: the clock's start)."""
    await cancel_deadlines(session, case_id, [spec.kind], at=at or spec.started_at)
    deadline = CaseDeadline(case_id=case_id, **clock_values(spec, compute(spec, calendar)))
    session.add(deadline)
    await session.flush()
    return deadline


async def open_deadlines(
    session: AsyncSession, case_id: uuid.UUID, kinds: list[DeadlineKind] | None = None
) -> list[CaseDeadline]:
    statement = select(CaseDeadline).where(
        CaseDeadline.case_id == case_id,
        CaseDeadline.met_at.is_(None),
        CaseDeadline.cancelled_at.is_(None),
    )
    if kinds is not None:
        statement = statement.where(CaseDeadline.kind.in_(kinds))
    return list((await session.scalars(statement.order_by(CaseDeadline.id))).all())


async def meet_deadlines(
    session: AsyncSession, case_id: uuid.UUID, kinds: list[DeadlineKind], *, at: datetime
) -> list[CaseDeadline]:
    """Mark the open clocks of these kinds as met; returns them (to tell whether on time)."""
    met = await open_deadlines(session, case_id, kinds)
    for deadline in met:
        deadline.met_at = at
    await session.flush()
    return met


async def cancel_deadlines(
    session: AsyncSession, case_id: uuid.UUID, kinds: list[DeadlineKind] | None, *, at: datetime
) -> None:
    statement = update(CaseDeadline).where(
        CaseDeadline.case_id == case_id,
        CaseDeadline.met_at.is_(None),
        CaseDeadline.cancelled_at.is_(None),
    )
    if kinds is not None:
        statement = statement.where(CaseDeadline.kind.in_(kinds))
    await session.execute(statement.values(cancelled_at=at))


async def all_deadlines(session: AsyncSession, case_id: uuid.UUID) -> list[CaseDeadline]:
    rows = await session.scalars(
        select(CaseDeadline).where(CaseDeadline.case_id == case_id).order_by(CaseDeadline.id)
    )
    return list(rows.all())


def stale_condition() -> ColumnElement[bool]:
    """The clock rests on a year whose schedule has a version newer than the clock."""
    return exists().where(
        CalendarVersion.year == func.any(CaseDeadline.calendar_years),
        CalendarVersion.revision > CaseDeadline.calendar_revision,
    )


@dataclass(frozen=True)
class SweepResult:
    due_soon: int
    overdue: int


def _thresholds(settings: Settings) -> list[tuple[str, timedelta]]:
    found = [(t, parse_threshold(t)) for t in settings.due_soon_thresholds if t != "0"]
    return sorted(found, key=lambda item: item[1], reverse=True)  # loosest first


async def sweep(session: AsyncSession, settings: Settings, *, now: datetime) -> SweepResult:
    """Emit due-soon and overdue events for open clocks, once per clock and threshold.

    When several thresholds are crossed at once (the sweeper was down, or a clock was short),
    only the tightest is announced; the looser ones are recorded as passed, so they never fire
    late. Safe to run concurrently: the alert's unique key decides which sweep announces it.
    """
    thresholds = _thresholds(settings)
    horizon = now + (thresholds[0][1] if thresholds else timedelta(0))
    rows = (
        await session.execute(
            select(CaseDeadline, Case)
            .join(Case, Case.id == CaseDeadline.case_id)
            .where(
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled_at.is_(None),
                CaseDeadline.due_at <= horizon,
                # Never for a date that no longer holds: a clock resting on a year whose
                # schedule changed since is recomputed first (deadlines.recompute).
                ~stale_condition(),
            )
            .order_by(CaseDeadline.due_at)
            # A clock being recomputed is skipped this round; its new date is swept next.
            .with_for_update(of=CaseDeadline, skip_locked=True)
        )
    ).all()
    due_soon = overdue = 0
    for deadline, case in rows:
        crossed = [(name, delta) for name, delta in thresholds if now >= deadline.due_at - delta]
        if now >= deadline.due_at:
            crossed.append(("0", timedelta(0)))
        if not crossed:
            continue
        tightest = crossed[-1][0]
        announce = False
        for name, _ in crossed:
            inserted = await session.scalar(
                insert(DeadlineAlert)
                .values(
                    deadline_id=deadline.id,
                    threshold=name,
                    due_at=deadline.due_at,
                    emitted=name == tightest,
                )
                .on_conflict_do_nothing(index_elements=["deadline_id", "threshold", "due_at"])
                .returning(DeadlineAlert.id)
            )
            if inserted is not None and name == tightest:
                announce = True
        if not announce:
            continue
        is_overdue = tightest == "0"
        type_name = contracts.CASE_OVERDUE_V1 if is_overdue else contracts.CASE_DUE_SOON_V1
        event = events.lifecycle_event(
            case,
            type_name,
            source=settings.event_source,
            occurred_at=now,
            actor=None,
            deadline=deadline.kind,
            due_at=deadline.due_at,
            threshold=tightest,
            supervisor_id=case.supervisor_id,
            provisional=deadline.provisional,
        )
        await events.publish(session, settings, case, event)
        if is_overdue:
            overdue += 1
        else:
            due_soon += 1
    return SweepResult(due_soon=due_soon, overdue=overdue)
