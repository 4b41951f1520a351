"""The reference data (org units, categories, hotline tiers) held in memory.

Every intake reads a category, a place, its town and a tier; these rows change only when a
data file is loaded (``reference.service.load_reference_data``: at start-up or by the loader
command), so the service reads them from a snapshot instead of the database.

Staleness is bounded two ways:

- in this process, a load drops the snapshot of that database at once;
- across replicas (or after the loader command ran in another process), a snapshot is
  re-read when it is older than ``PETITIONS_REFERENCE_CACHE_TTL_S`` (30 s by default). A TTL
  rather than a per-request version check, because the check would itself be the round trip
  the cache removes, and a new data file is a deployment event: for at most the TTL another
  replica still routes by the previous file's rules.

A snapshot is read on the connection of the request that finds it missing or old (never a
second pooled connection: under load every connection may be held by a request waiting for
it); while one request re-reads an old snapshot, the others keep using the old one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from petitions_api.reference.models import Category, HotlineTier, OrgUnit

DEFAULT_TTL_S = 30.0
_M = TypeVar("_M", OrgUnit, Category, HotlineTier)


@dataclass(frozen=True)
class Snapshot:
    """Rows as transient model instances (in no session, every column set); read-only."""

    units: dict[str, OrgUnit]
    categories: dict[str, Category]
    tiers: dict[str, HotlineTier]
    loaded_at: float
    # Derived once per snapshot: the urgent tier, the fallback tier (first non-urgent by code).
    urgent_tier: HotlineTier | None = field(default=None)
    fallback_tier: HotlineTier | None = field(default=None)


class ReferenceCache:
    """One snapshot per database (keyed by its URL: tests and tools use several)."""

    def __init__(
        self, *, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.monotonic
    ):
        self.ttl_s = ttl_s
        self._clock = clock
        self._snapshots: dict[str, Snapshot] = {}
        self._refreshing: set[str] = set()

    def invalidate(self, key: str | None = None) -> None:
        """Forget the snapshot of one database (None: of every database)."""
        if key is None:
            self._snapshots.clear()
        else:
            self._snapshots.pop(key, None)

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        bind = session.bind
        key = database_key(bind)
        current = self._snapshots.get(key)
        if current is not None and (
            self._clock() - current.loaded_at < self.ttl_s or key in self._refreshing
        ):
            return current
        self._refreshing.add(key)
        try:
            fresh = await self._read(session)
        finally:
            self._refreshing.discard(key)
        if key in self._snapshots or current is None:
            self._snapshots[key] = fresh
        return fresh

    async def _read(self, session: AsyncSession) -> Snapshot:
        started = self._clock()
        units = await _rows(session, OrgUnit)
        categories = await _rows(session, Category)
        tiers = sorted(await _rows(session, HotlineTier), key=lambda t: t.code)
        urgent = next((t for t in tiers if t.urgent), None)
        fallback = next((t for t in tiers if not t.urgent), None)
        return Snapshot(
            units={u.code: u for u in units},
            categories={c.code: c for c in categories},
            tiers={t.code: t for t in tiers},
            loaded_at=started,
            urgent_tier=urgent,
            fallback_tier=fallback,
        )


async def _rows(session: AsyncSession, model: type[_M]) -> list[_M]:
    # Core rows made into transient instances: nothing enters the request's identity map.
    result = await session.execute(select(model.__table__))
    return [model(**row) for row in result.mappings()]


def database_key(bind: AsyncEngine | AsyncConnection | None) -> str:
    if bind is None:
        raise RuntimeError("the reference cache needs a session bound to an engine")
    return bind.engine.url.render_as_string(hide_password=True)


# The process's cache; petitions_api.main sets its TTL from the settings.
cache = ReferenceCache()
