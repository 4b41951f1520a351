"""The transactional outbox (Debezium's pattern) and its relay.

A service writes its state change and the event row in one transaction with
:func:`add_to_outbox`; it never talks to Kafka. The relay publishes unsent rows in id order
with an idempotent producer (``acks=all``) and marks them sent. It is woken by PostgreSQL
``NOTIFY`` at commit, and polls slowly as a safety net; under load it gathers the rows of
a short window into one batch. One relay per database publishes at a
time (a PostgreSQL advisory lock), so rows leave in the order they were committed.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from gov_common.db import unit_of_work
from gov_common.events.envelope import CloudEvent, to_kafka
from gov_common.messaging.kafka import ensure_topics, new_producer
from gov_common.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, service_name
from gov_common.supervision import run_until_stopped, sleep_or_stop
from gov_common.tracing import current_traceparent

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "gov_outbox"


class OutboxMixin:
    """Columns of an outbox table: rows are inserted by services, marked sent only by the relay."""

    __tablename__: ClassVar[str] = "outbox"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index]:  # noqa: N805 - a declared_attr takes the class
        # The relay scans only unsent rows; a partial index keeps that cheap as history grows.
        return (
            Index(f"ix_{cls.__tablename__}_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(249))
    message_key: Mapped[str | None] = mapped_column(String(200))
    headers: Mapped[list[list[str]]] = mapped_column(JSONB)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


def outbox_values(*, topic: str, key: str | None, event: CloudEvent) -> dict[str, Any]:
    """The columns of ``event``'s outbox row, for callers that write it in a statement of
    their own (e.g. together with the rows of the change it reports)."""
    if event.traceparent is None and (traceparent := current_traceparent()):
        # The consumer's span will continue the trace of the request that caused the event.
        event = event.model_copy(update={"traceparent": traceparent})
    record = to_kafka(event, key=key)
    return {
        "event_id": event.id,
        "event_type": event.type,
        "topic": topic,
        "message_key": key,
        "headers": [[name, value.decode()] for name, value in record.headers],
        "payload": record.value,
    }


async def add_to_outbox(
    session: AsyncSession,
    model: type[OutboxMixin],
    *,
    topic: str,
    key: str | None,
    event: CloudEvent,
) -> None:
    """Record an event in the caller's transaction; it is published only if that commits."""
    await add_many_to_outbox(session, model, [(topic, key, event)])


async def add_many_to_outbox(
    session: AsyncSession,
    model: type[OutboxMixin],
    events: Sequence[tuple[str, str | None, CloudEvent]],
) -> None:
    """Record several ``(topic, key, event)`` in the caller's transaction with one INSERT."""
    if not events:
        return
    rows = [outbox_values(topic=topic, key=key, event=event) for topic, key, event in events]
    await session.execute(insert(model).values(rows))
    # Delivered by PostgreSQL only when the transaction commits: wakes the relay at once.
    await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))


class OutboxRelay:
    """Publishes a service's outbox to Kafka; run it as a background task with :meth:`run`."""

    def __init__(
        self,
        *,
        model: type[OutboxMixin],
        session_factory: async_sessionmaker[AsyncSession],
        dsn: str,
        bootstrap_servers: str,
        client_id: str,
        topics: list[str],
        topic_prefix: str = "",
        batch_size: int = 200,
        poll_interval_s: float = 2.0,
        send_timeout_s: float = 30.0,
        coalesce_s: float = 0.02,
    ) -> None:
        self._model = model
        self._sessions = session_factory
        self._dsn = dsn
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._topics = topics
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll_interval = poll_interval_s
        self._send_timeout = send_timeout_s
        self._coalesce = coalesce_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        # Advisory lock key: one relay per outbox table and database publishes at a time.
        self._lock_key = zlib.crc32(f"outbox:{model.__tablename__}".encode())
        self.broker_reachable = False
        self.is_leader = False
        self._metrics_refreshed_at = float("-inf")

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        async def step_down() -> None:
            self.is_leader = False

        try:
            await run_until_stopped(
                self._lead, self._stopping, name="outbox.relay", on_failure=step_down
            )
        finally:
            await self._close_producer()

    async def _lead(self) -> None:
        connection: asyncpg.Connection[Any] = await asyncpg.connect(self._dsn)
        try:
            while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                self.is_leader = False
                if await sleep_or_stop(self._stopping, self._poll_interval * 2):
                    return
            self.is_leader = True
            await connection.add_listener(NOTIFY_CHANNEL, self._on_notify)
            log.info("outbox.relay_leading", table=self._model.__tablename__)
            loop = asyncio.get_running_loop()
            while not self._stopping.is_set():
                self._wakeup.clear()
                started = loop.time()
                published = await self.publish_batch()
                await self._refresh_backlog_metrics()
                if published < self._batch_size:
                    await self._wait_for_work(connection)
                    if published > 1:
                        # Rows are arriving faster than one batch's round trip: gather them
                        # for up to ``coalesce_s`` after the last batch began, so that under
                        # load one transaction and one produce carry many rows. A lone row
                        # (the idle case) never waits.
                        gather_s = started + self._coalesce - loop.time()
                        if gather_s > 0:
                            await sleep_or_stop(self._stopping, gather_s)
        finally:
            self.is_leader = False
            await connection.close(timeout=5)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()

    async def _wait_for_work(self, connection: asyncpg.Connection[Any]) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=self._poll_interval)
        except TimeoutError:
            # Also proves the listening connection is alive; a dead one raises and reconnects.
            await connection.fetchval("SELECT 1")

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._bootstrap, client_id=self._client_id)
            try:
                await producer.start()
                await ensure_topics(self._bootstrap, self._topics, prefix=self._prefix)
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish_batch(self) -> int:
        """Publish the oldest unsent rows; returns how many were published.

        One transaction and one statement read the rows and mark them sent; it commits only
        once Kafka has acknowledged them, so a row is sent again (never lost) if the relay dies
        or the commit fails after the send, as before. Rows Kafka refused are unmarked in the
        same transaction, with their error.
        """
        model = self._model
        async with self._sessions() as session:
            oldest = (
                select(model.id)
                .where(model.sent_at.is_(None))
                .order_by(model.id)
                .limit(self._batch_size)
            )
            rows = sorted(
                (
                    await session.execute(
                        update(model)
                        .where(model.id.in_(oldest.scalar_subquery()))
                        .values(sent_at=datetime.now(UTC), attempts=model.attempts + 1)
                        .returning(
                            model.id, model.topic, model.message_key, model.headers, model.payload
                        )
                    )
                ).all(),
                key=lambda row: row.id,
            )
            if not rows:
                return 0
            try:
                producer = await self._ensure_producer()
                futures = [
                    await producer.send(
                        row.topic,
                        row.payload,
                        key=row.message_key.encode() if row.message_key is not None else None,
                        headers=[(name, value.encode()) for name, value in row.headers],
                    )
                    for row in rows
                ]
                results = await asyncio.wait_for(
                    asyncio.gather(*futures, return_exceptions=True), timeout=self._send_timeout
                )
            except Exception as exc:
                self.broker_reachable = False
                await session.rollback()
                await self._record_failure([row.id for row in rows], exc)
                # A producer that failed may hold a broken connection or sequence state.
                await self._close_producer()
                raise
            self.broker_reachable = True
            outcomes = list(zip(rows, results, strict=True))
            failed = [row.id for row, result in outcomes if isinstance(result, BaseException)]
            if failed:
                error = next(r for r in results if isinstance(r, BaseException))
                await session.execute(
                    update(model)
                    .where(model.id.in_(failed))
                    .values(sent_at=None, last_error=repr(error)[:2000])
                )
            await session.commit()
        for row, result in outcomes:
            if not isinstance(result, BaseException):
                OUTBOX_PUBLISHED.labels(service_name(), row.topic).inc()
        if failed:
            await self._close_producer()
            raise RuntimeError(f"{len(failed)} outbox row(s) not acknowledged by Kafka: {error!r}")
        return len(rows)

    async def _record_failure(self, ids: list[int], exc: BaseException) -> None:
        model = self._model
        try:
            async with unit_of_work(self._sessions) as session:
                await session.execute(
                    update(model)
                    .where(model.id.in_(ids))
                    .values(attempts=model.attempts + 1, last_error=repr(exc)[:2000])
                )
        except Exception as db_exc:  # the database may be the thing that is down
            log.warning("outbox.record_failure_failed", error=repr(db_exc))

    async def _refresh_backlog_metrics(self, every_s: float = 5.0) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._metrics_refreshed_at < every_s:
            return
        self._metrics_refreshed_at = now
        count, age = await self.backlog()
        OUTBOX_BACKLOG.labels(service_name()).set(count)
        OUTBOX_OLDEST_AGE.labels(service_name()).set(age)

    async def backlog(self) -> tuple[int, float]:
        """Unsent rows and the age in seconds of the oldest one (for metrics and readiness)."""
        model = self._model
        async with self._sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(model.created_at)).where(model.sent_at.is_(None))
                )
            ).one()
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        return int(count), age
