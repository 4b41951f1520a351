"""Computing running clocks again when the calendar of a year they rest on changes.

A resumable job, driven by the data rather than by a queue: every calendar version has a
``revision``; every clock remembers the revision it was computed with and the years whose days
it read. A clock is *stale* when one of its years has a newer version. The sweeper runs
:func:`recompute_stale` before every sweep (and at once after a ``PUT /v1/calendar/{year}`` in
the same process), in batches, each batch one transaction; a restart loses nothing, since
what is left to do is simply the stale clocks still in the table.

Each clock whose date moves gets a timeline entry and a ``case.deadline_changed`` event through
the outbox, in the batch's transaction; one whose date stays is only marked current. The sweep
skips stale clocks, so no due-soon or overdue goes out for a date that no longer holds.

``calendar_reconciliation`` remembers up to which revision everything was carried over, so
that a quiet round costs one indexed read. It advances past a version only once that version
is older than the calendar cache's TTL: until then another replica may still compute a clock
on the snapshot before it, and that clock must be found too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import petitions as contracts
from petitions_api.cases import events
from petitions_api.cases.models import Case, TimelineEntry
from petitions_api.config import Settings
from petitions_api.deadlines.calendar.cache import read_calendar
from petitions_api.deadlines.calendar.models import CalendarReconciliation, CalendarVersion
from petitions_api.deadlines.calendar.sources import CalendarSource
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import compute
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.deadlines.service import spec_of, stale_condition

BATCH = 200
_OPEN = (CaseDeadline.met_at.is_(None), CaseDeadline.cancelled_at.is_(None))


@dataclass(frozen=True)
class RecomputeResult:
    recomputed: int  # stale clocks computed again
    moved: int  # of which the date moved
    remaining: bool  # stale clocks left (another batch, or cases locked by a request)


async def _watermark(session: AsyncSession) -> int:
    await session.execute(
        insert(CalendarReconciliation).values(id=1, revision=0).on_conflict_do_nothing()
    )
    return int(
        await session.scalar(
            select(CalendarReconciliation.revision).where(CalendarReconciliation.id == 1)
        )
        or 0
    )


async def stale_clock_count(session: AsyncSession, *, year: int | None = None) -> int:
    """Open clocks resting on a changed year (or on ``year``, changed or not)."""
    statement = select(func.count()).select_from(CaseDeadline).where(*_OPEN)
    if year is None:
        statement = statement.where(stale_condition())
    else:
        statement = statement.where(CaseDeadline.calendar_years.any_() == year)
    return int(await session.scalar(statement) or 0)


def _reason(version: CalendarVersion) -> str:
    if version.source is CalendarSource.OFFICIAL:
        return (
            f"the {version.year} holiday schedule was entered ({version.notice}; "
            f"by {version.entered_by})"
        )
    if version.source is CalendarSource.LIBRARY:
        return f"the {version.year} holiday schedule now comes from {version.origin}"
    return (
        f"the {version.year} calendar is provisional: only the rest days fixed by law, "
        "until the State Council's notice is entered"
    )


async def recompute_stale(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime,
    batch: int = BATCH,
    calendar: WorkingCalendar | None = None,
) -> RecomputeResult:
    """One batch: compute the stale clocks of up to ``batch`` cases again on the calendar as
    it is now in the database."""
    watermark = await _watermark(session)
    newer = list(
        (
            await session.scalars(
                select(CalendarVersion)
                .where(CalendarVersion.revision > watermark)
                .order_by(CalendarVersion.revision)
            )
        ).all()
    )
    if not newer:
        return RecomputeResult(0, 0, False)
    calendar = calendar or await read_calendar(session)
    years = sorted({v.year for v in newer})
    stale = (*_OPEN, CaseDeadline.calendar_years.overlap(years), stale_condition())
    # Cases first, then their clocks: the order every action locks them in.
    candidates = select(CaseDeadline.case_id).where(*stale).distinct().limit(batch).subquery()
    cases = {
        case.id: case
        for case in (
            await session.scalars(
                select(Case)
                .where(Case.id.in_(select(candidates.c.case_id)))
                .with_for_update(skip_locked=True)
            )
        ).all()
    }
    clocks = (
        list(
            (
                await session.scalars(
                    select(CaseDeadline)
                    .where(CaseDeadline.case_id.in_(list(cases)), *stale)
                    .order_by(CaseDeadline.id)
                    .with_for_update()
                )
            ).all()
        )
        if cases
        else []
    )
    latest_by_year = {v.year: v for v in newer}
    moved = 0
    for clock in clocks:
        due = compute(spec_of(clock), calendar)
        old_on, old_at = clock.due_on, clock.due_at
        clock.provisional = due.provisional
        clock.calendar_years = list(due.years)
        clock.calendar_revision = due.revision
        if (due.due_on, due.due_at) == (old_on, old_at):
            continue
        moved += 1
        clock.due_on, clock.due_at = due.due_on, due.due_at
        case = cases[clock.case_id]
        cause = max(
            (latest_by_year[y] for y in set(due.years) | {old_at.year} if y in latest_by_year),
            key=lambda v: v.revision,
            default=newer[-1],
        )
        reason = _reason(cause)
        case.version += 1
        session.add(
            TimelineEntry(
                case_id=case.id,
                action="deadline_changed",
                from_status=case.status.value,
                to_status=case.status.value,
                actor=cause.entered_by,
                reason=reason,
                details={
                    "deadline": clock.kind.value,
                    "old_due_on": old_on.isoformat() if old_on else None,
                    "new_due_on": due.due_on.isoformat() if due.due_on else None,
                    "provisional": due.provisional,
                    "calendar_revision": due.revision,
                },
                occurred_at=now,
            )
        )
        await events.publish(
            session,
            settings,
            case,
            events.lifecycle_event(
                case,
                contracts.CASE_DEADLINE_CHANGED_V1,
                source=settings.event_source,
                occurred_at=now,
                actor=cause.entered_by,
                deadline=clock.kind,
                old_due_on=old_on,
                new_due_on=due.due_on,
                old_due_at=old_at,
                new_due_at=due.due_at,
                provisional=due.provisional,
                reason=reason,
                calendar_years=list(due.years),
            ),
        )
    await session.flush()
    remaining = bool(await session.scalar(select(select(CaseDeadline.id).where(*stale).exists())))
    if not remaining:
        # Carried over; only versions older than the cache's TTL are past for good.
        settled = now - timedelta(seconds=settings.calendar_cache_ttl_s + 5)
        done = [v.revision for v in newer if v.entered_at <= settled]
        if done:
            await session.execute(
                update(CalendarReconciliation)
                .where(CalendarReconciliation.id == 1)
                .values(revision=func.greatest(CalendarReconciliation.revision, max(done)))
            )
    return RecomputeResult(len(clocks), moved, remaining)
