"""Per-channel sending rates: a token bucket per channel, shared by one dispatcher's sends."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``count`` sends per ``per_s`` seconds, refilled continuously, bursting up to ``count``."""

    def __init__(self, count: int, per_s: float) -> None:
        self._capacity = float(count)
        self._rate = count / per_s
        self._tokens = float(count)
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served
            self._refill()
            while self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self._rate)
                self._refill()
            self._tokens -= 1

    def try_acquire(self) -> bool:
        """Take a token only if one is there now and nobody is queued for one."""
        if self._lock.locked():
            return False
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def available(self) -> int:
        self._refill()
        return int(self._tokens)


class RateLimits:
    def __init__(self, limits: dict[str, tuple[int, float]]) -> None:
        self._buckets = {channel: TokenBucket(c, p) for channel, (c, p) in limits.items()}

    async def acquire(self, channel: str) -> None:
        bucket = self._buckets.get(channel)
        if bucket is not None:
            await bucket.acquire()

    def try_acquire(self, channel: str) -> bool:
        """A send now without waiting, if the channel's rate allows one (unlimited: always)."""
        bucket = self._buckets.get(channel)
        return True if bucket is None else bucket.try_acquire()

    def budget(self, channel: str, *, default: int) -> int:
        """How many sends the channel may start now (at least 1, so no channel starves)."""
        bucket = self._buckets.get(channel)
        return default if bucket is None else max(1, min(default, bucket.available()))
