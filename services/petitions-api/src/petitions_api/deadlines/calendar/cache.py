"""The working calendar held in memory, like the reference data (``reference.cache``).

Every intake and action computes deadlines; the official schedules change a few times a
year. A snapshot is re-read when it is older than ``PETITIONS_CALENDAR_CACHE_TTL_S`` (30 s by
default) and dropped at once in the process that changed the calendar. A clock computed on a
snapshot that was already stale is not wrong for long: it remembers the revision it was
computed with, and the recompute job (``deadlines.recompute``) computes it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from petitions_api.deadlines.calendar.models import CalendarVersion
from petitions_api.deadlines.calendar.sources import CalendarSource, YearSchedule
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.reference.cache import database_key

DEFAULT_TTL_S = 30.0


async def read_calendar(session: AsyncSession) -> WorkingCalendar:
    """The calendar as the database has it now (no cache)."""
    latest_official = (
        select(CalendarVersion)
        .where(CalendarVersion.source == CalendarSource.OFFICIAL)
        .order_by(CalendarVersion.year, CalendarVersion.revision.desc())
        .ext(distinct_on(CalendarVersion.year))
    )
    rows = (await session.execute(select(latest_official.subquery()))).mappings().all()
    revision = await session.scalar(select(func.coalesce(func.max(CalendarVersion.revision), 0)))
    official = {
        row["year"]: YearSchedule(
            row["year"],
            CalendarSource.OFFICIAL,
            frozenset(row["holidays"]),
            frozenset(row["make_up_workdays"]),
        )
        for row in rows
    }
    return WorkingCalendar(official=official, revision=int(revision or 0))


class CalendarCache:
    def __init__(
        self, *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._snapshots: dict[str, tuple[float, WorkingCalendar]] = {}

    def invalidate(self, key: str | None = None) -> None:
        if key is None:
            self._snapshots.clear()
        else:
            self._snapshots.pop(key, None)

    async def calendar(self, session: AsyncSession) -> WorkingCalendar:
        key = database_key(session.bind)
        found = self._snapshots.get(key)
        if found is not None and self._clock() - found[0] < self.ttl_s:
            return found[1]
        started = self._clock()
        fresh = await read_calendar(session)
        self._snapshots[key] = (started, fresh)
        return fresh


# The process's cache; petitions_api.main sets its TTL from the settings.
cache = CalendarCache()
