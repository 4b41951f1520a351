"""Keeping a background loop alive: restart it with backoff when it fails, until stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from gov_common.messaging.kafka import backoff_delay

log = structlog.get_logger(__name__)


async def sleep_or_stop(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep, but wake when asked to stop; returns True when stopping."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def run_until_stopped(
    body: Callable[[], Awaitable[None]],
    stopping: asyncio.Event,
    *,
    name: str,
    on_failure: Callable[[], Awaitable[None]] | None = None,
    base_s: float = 0.5,
    cap_s: float = 15.0,
) -> None:
    """Run ``body`` again whenever it returns or fails, backing off after failures."""
    attempt = 0
    while not stopping.is_set():
        try:
            await body()
            attempt = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempt += 1
            delay = backoff_delay(attempt, base=base_s, cap=cap_s)
            log.warning(f"{name}.error", error=repr(exc), retry_in_s=round(delay, 2))
            if on_failure is not None:
                await on_failure()
            await sleep_or_stop(stopping, delay)
