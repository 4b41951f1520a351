"""Opening, meeting and cancelling a case's clocks, and the due-soon/overdue sweep."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import petitions as contracts
from gov_common.events.petitions import DeadlineKind
from petitions_api.cases import events
from petitions_api.cases.models import Case
from petitions_api.config import Settings
from petitions_api.deadlines.calendar import end_of_day, parse_threshold
from petitions_api.deadlines.models import CaseDeadline, DeadlineAlert


async def open_deadline(
    session: AsyncSession,
    case_id: uuid.UUID,
    kind: DeadlineKind,
    *,
    started_at: datetime,
    due_on: date | None = None,
    due_at: datetime | None = None,
) -> CaseDeadline:
    """Start a clock; any open clock of the same kind is superseded (cancelled)."""
    await cancel_deadlines(session, case_id, [kind], at=started_at)
    if due_at is None:
        if due_on is None:
            raise ValueError("a deadline has a due date or a due instant")
        due_at = end_of_day(due_on)
    deadline = CaseDeadline(
        case_id=case_id, kind=kind, started_at=started_at, due_on=due_on, due_at=due_at
    )
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
            )
            .order_by(CaseDeadline.due_at)
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
                .values(deadline_id=deadline.id, threshold=name, emitted=name == tightest)
                .on_conflict_do_nothing(index_elements=["deadline_id", "threshold"])
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
        )
        await events.publish(session, settings, case, event)
        if is_overdue:
            overdue += 1
        else:
            due_soon += 1
    return SweepResult(due_soon=due_soon, overdue=overdue)
