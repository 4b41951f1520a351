"""Retention of the tables that would otherwise only grow: outbox, inbox, idempotency keys.

What goes, per table (ages from the settings, ``GOV_*_RETENTION_DAYS``):

- outbox: rows the relay has **published** (``sent_at``) longer ago than the outbox retention;
  unpublished rows stay however old they are (they are still owed to Kafka);
- inbox: event ids **processed** longer ago than the inbox retention. An id forgotten while
  the event can still arrive again would be handled twice, and an event can arrive again as
  long as its topic or its dead-letter topic (replayed by an operator) still holds it, so
  the settings refuse an inbox retention not longer than both topics' retention together;
- idempotency keys: requests **first seen** longer ago than the idempotency retention; a
  client retrying after that gets a new resource, as it would with a new key.

Rows are deleted in batches of ``GOV_RETENTION_BATCH_SIZE``, each batch its own short
transaction, so pruning never holds locks the requests need for long. Every replica may run
the pruner: a batch deletes only rows no one else has deleted, so running twice is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.db import unit_of_work
from gov_common.settings import ServiceSettings
from gov_common.supervision import sleep_or_stop

log = structlog.get_logger(__name__)

PRUNED = Counter(
    "gov_retention_pruned_rows",
    "Rows deleted by the retention pruner, per table",
    ["table"],
)


@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``model`` older than ``keep`` by ``age_column`` go, if ``condition`` holds."""

    model: Any  # a mapped class with an ``__table__``
    age_column: str
    keep: timedelta
    condition: ColumnElement[bool] | None = None

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    def expired(self, now: datetime) -> ColumnElement[bool]:
        column = getattr(self.model, self.age_column)
        clause: ColumnElement[bool] = column < now - self.keep
        if self.condition is not None:
            clause = clause & self.condition
        return clause


def outbox_rule(model: Any, settings: ServiceSettings) -> RetentionRule:
    """Published rows only: ``sent_at`` is NULL until the relay has sent the row."""
    return RetentionRule(
        model, "sent_at", timedelta(days=settings.outbox_retention_days), model.sent_at.isnot(None)
    )


def inbox_rule(model: Any, settings: ServiceSettings) -> RetentionRule:
    return RetentionRule(model, "processed_at", timedelta(days=settings.inbox_retention_days))


def idempotency_rule(model: Any, settings: ServiceSettings) -> RetentionRule:
    return RetentionRule(model, "created_at", timedelta(days=settings.idempotency_retention_days))


async def prune_table(
    sessions: async_sessionmaker[AsyncSession],
    rule: RetentionRule,
    *,
    batch_size: int,
    now: datetime | None = None,
    max_batches: int | None = None,
) -> int:
    """Delete ``rule``'s expired rows, ``batch_size`` per transaction; returns how many."""
    now = now or datetime.now(UTC)
    key = list(rule.model.__table__.primary_key.columns)
    total = batches = 0
    while max_batches is None or batches < max_batches:
        doomed = select(*key).where(rule.expired(now)).limit(batch_size)
        statement = delete(rule.model.__table__).where(tuple_(*key).in_(doomed))
        async with unit_of_work(sessions) as session:
            result = await session.execute(statement)
            deleted = int(getattr(result, "rowcount", 0) or 0)
        batches += 1
        total += deleted
        PRUNED.labels(rule.table).inc(deleted)
        if deleted < batch_size:
            break
    return total


async def prune(
    sessions: async_sessionmaker[AsyncSession],
    rules: Sequence[RetentionRule],
    *,
    batch_size: int,
    now: datetime | None = None,
) -> dict[str, int]:
    """One pass over every table: {table: rows deleted}."""
    now = now or datetime.now(UTC)
    return {
        rule.table: await prune_table(sessions, rule, batch_size=batch_size, now=now)
        for rule in rules
    }


class RetentionPruner:
    """The background worker: a pass every ``GOV_RETENTION_INTERVAL_S``, until stopped."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        rules: Sequence[RetentionRule],
        settings: ServiceSettings,
    ) -> None:
        self._sessions = sessions
        self._rules = list(rules)
        self._settings = settings
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                pruned = await prune(
                    self._sessions, self._rules, batch_size=self._settings.retention_batch_size
                )
                log.info("retention.pruned", **pruned)
            except Exception as exc:  # the database may be away; try again next time
                log.warning("retention.failed", error=repr(exc))
            if await sleep_or_stop(self._stopping, self._settings.retention_interval_s):
                return


async def prune_once(database_url: str, rules: Sequence[RetentionRule], batch_size: int) -> int:
    """The CLI's pass (``python -m <service>.retention``): prints what went, per table."""
    from gov_common.db import create_engine, create_session_factory

    engine = create_engine(database_url, pool_size=1)
    try:
        pruned = await prune(create_session_factory(engine), rules, batch_size=batch_size)
    finally:
        await engine.dispose()
    for table, count in pruned.items():
        print(f"{table}: {count} rows deleted")
    return 0
