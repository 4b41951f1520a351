"""The sweep as a background worker: runs :func:`service.sweep` every interval."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.clock import today_in_china
from gov_common.db import unit_of_work
from targets_api.config import Settings
from targets_api.progress import service

log = structlog.get_logger(__name__)


class Sweeper:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                async with unit_of_work(self._sessions) as session:
                    result = await service.sweep(session, self._settings, today_in_china())
                log.info(
                    "sweep.done", status_changes=result.status_changes, reminders=result.reminders
                )
            except Exception as exc:  # the database may be away; try again next time
                log.warning("sweep.failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), timeout=self._settings.sweep_interval_s
                )
