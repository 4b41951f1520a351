"""The scheduled deadline sweep as a background worker (run/stop like the outbox relay)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.db import unit_of_work
from petitions_api.config import Settings
from petitions_api.deadlines.service import SweepResult, sweep

log = structlog.get_logger(__name__)


class DeadlineSweeper:
    def __init__(
        self, *, session_factory: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def sweep_once(self) -> SweepResult:
        async with unit_of_work(self._sessions) as session:
            return await sweep(session, self._settings, now=datetime.now(UTC))

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = await self.sweep_once()
                if result.due_soon or result.overdue:
                    log.info("deadlines.swept", due_soon=result.due_soon, overdue=result.overdue)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away; try again next round
                log.warning("deadlines.sweep_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=self._settings.sweep_interval_s
                )
