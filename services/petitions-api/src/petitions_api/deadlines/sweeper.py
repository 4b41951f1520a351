"""The scheduled deadline work as a background worker (run/stop like the outbox relay):
recompute the clocks a calendar change left stale, then sweep for due-soon and overdue, and
publish how far the known calendar reaches."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.clock import today_in_china
from gov_common.db import unit_of_work
from gov_common.metrics import CALENDAR_COVERED_UNTIL, service_name
from petitions_api.config import Settings
from petitions_api.deadlines.calendar.cache import read_calendar
from petitions_api.deadlines.days import end_of_day
from petitions_api.deadlines.recompute import RecomputeResult, recompute_stale
from petitions_api.deadlines.service import SweepResult, sweep

log = structlog.get_logger(__name__)
MAX_BATCHES_PER_ROUND = 50


class DeadlineSweeper:
    def __init__(
        self, *, session_factory: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    def wake(self) -> None:
        """Run a round now (the calendar changed in this process)."""
        self._woken.set()

    async def recompute_once(self) -> RecomputeResult:
        """Recompute stale clocks batch by batch until none is left (or the round's cap)."""
        recomputed = moved = 0
        result = RecomputeResult(0, 0, False)
        for _ in range(MAX_BATCHES_PER_ROUND):
            async with unit_of_work(self._sessions) as session:
                result = await recompute_stale(session, self._settings, now=datetime.now(UTC))
            recomputed, moved = recomputed + result.recomputed, moved + result.moved
            if not result.remaining or not result.recomputed:
                break
        if recomputed:
            log.info("deadlines.recomputed", clocks=recomputed, moved=moved)
        return RecomputeResult(recomputed, moved, result.remaining)

    async def sweep_once(self) -> SweepResult:
        await self.recompute_once()
        async with unit_of_work(self._sessions) as session:
            result = await sweep(session, self._settings, now=datetime.now(UTC))
            calendar = await read_calendar(session)
        covered = calendar.covered_until(today_in_china())
        CALENDAR_COVERED_UNTIL.labels(service_name()).set(end_of_day(covered).timestamp())
        return result

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._woken.clear()
            try:
                result = await self.sweep_once()
                if result.due_soon or result.overdue:
                    log.info("deadlines.swept", due_soon=result.due_soon, overdue=result.overdue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away; try again next round
                log.warning("deadlines.sweep_failed", error=repr(exc))
            stopping = asyncio.ensure_future(self._stopping.wait())
            woken = asyncio.ensure_future(self._woken.wait())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(
                    {stopping, woken},
                    timeout=self._settings.sweep_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            for waiter in (stopping, woken):
                waiter.cancel()
