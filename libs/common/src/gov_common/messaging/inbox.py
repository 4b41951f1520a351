"""The idempotent consumer: an inbox table, manual offset commits, retries, dead letters.

For every record: decode the CloudEvent, validate its payload against the registry, then in
one transaction insert ``(consumer, event id)`` into the inbox and run the handler. A
duplicate inbox row means the work is already done, so a redelivered event changes nothing.
The records of one fetch (per partition, at most ``max_poll_records``) share that
transaction, each handler in a savepoint; a failing one is rolled back alone and retried by
itself before the records after it (:meth:`IdempotentConsumer.handle_batch`).
Offsets are committed only after that transaction has committed. A record that can never
succeed goes to ``<topic>.dlq`` with the reason in headers, and consumption moves on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import MessageSizeTooLargeError
from opentelemetry.trace import SpanKind
from pydantic import BaseModel
from sqlalchemy import DateTime, String, delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import unit_of_work
from gov_common.events.envelope import CloudEvent, MalformedEventError, from_kafka
from gov_common.events.registry import (
    EVENT_TYPES,
    SchemaViolationError,
    UnknownEventTypeError,
    dead_letter_topic,
    parse_payload,
)
from gov_common.messaging.kafka import backoff_delay, ensure_topics, new_producer
from gov_common.metrics import (
    CONSUMER_DEAD_LETTERS,
    CONSUMER_HANDLED,
    CONSUMER_LAG,
    service_name,
)
from gov_common.supervision import run_until_stopped, sleep_or_stop
from gov_common.tracing import span_from_event

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, CloudEvent, BaseModel], Awaitable[None]]

# Header names on dead-lettered records, beside the original ones.
DLQ_REASON = "dlq_reason"
DLQ_ERROR_CLASS = "dlq_error_class"
DLQ_ORIGINAL_TOPIC = "dlq_original_topic"
DLQ_ORIGINAL_PARTITION = "dlq_original_partition"
DLQ_ORIGINAL_OFFSET = "dlq_original_offset"
DLQ_CONSUMER = "dlq_consumer"
DLQ_FAILED_AT = "dlq_failed_at"
# Set when the dead letter could not carry the whole value: the original size in bytes.
DLQ_VALUE_TRUNCATED = "dlq_value_truncated"
# A dead letter is the original plus dlq_* headers, so a record the broker took at its size
# limit no longer fits. Its first bytes are kept; the whole stays at its original offset.
DLQ_TRUNCATED_VALUE_BYTES = 64 * 1024


class PermanentEventError(Exception):
    """Raised by a handler for an event that can never be handled; it goes to the DLQ."""


class InboxMixin:
    """Columns of an inbox table: one row per (consumer, event id) handled."""

    __tablename__: ClassVar[str] = "inbox"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200))
    processed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# Failures worth waiting out however long they last: the database or network is away.
_INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError, OSError)


def _is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _INFRASTRUCTURE_ERRORS)


@dataclass
class _Parsed:
    """A decoded record; no handler (nor payload) when this consumer does not need its type."""

    record: ConsumerRecord[bytes, bytes]
    event: CloudEvent
    payload: BaseModel | None
    handler: Handler | None


@dataclass
class _Outcome:
    handled: bool
    dead_lettered: bool = False


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: IdempotentConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner.commit_pending()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class IdempotentConsumer:
    """Consumes topics for one consumer group; run it as a background task with :meth:`run`."""

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        session_factory: async_sessionmaker[AsyncSession],
        inbox_model: type[InboxMixin],
        bootstrap_servers: str,
        topic_prefix: str = "",
        max_attempts: int = 5,
        retry_base_s: float = 0.2,
        retry_cap_s: float = 30.0,
        max_poll_records: int = 200,
        on_handled: Callable[[CloudEvent], None] | None = None,
    ) -> None:
        self.name = name
        self._contract_topics = topics
        self._topics = [topic_prefix + t for t in topics]
        for topic in self._topics:
            # Exported at zero from the start, so "dead letters grew" alerts see the first one.
            CONSUMER_DEAD_LETTERS.labels(service_name(), name, topic)
        self._prefix = topic_prefix
        self._handlers = dict(handlers)
        self._sessions = session_factory
        self._inbox = inbox_model
        self._bootstrap = bootstrap_servers
        self._max_attempts = max_attempts
        self._retry_base = retry_base_s
        self._retry_cap = retry_cap_s
        self._max_poll_records = max_poll_records
        # Called after a handler's transaction committed, e.g. to wake a dispatcher at once.
        self._on_handled = on_handled
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._pending: dict[TopicPartition, int] = {}
        self._stopping = asyncio.Event()
        self.broker_reachable = False
        self.handled_count = 0
        self.dead_letter_count = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        async def start_and_consume() -> None:
            await self._start()
            await self._consume()

        async def reset() -> None:
            self.broker_reachable = False
            await self._shutdown()

        try:
            await run_until_stopped(
                start_and_consume, self._stopping, name="consumer", on_failure=reset
            )
        finally:
            await self._shutdown()

    async def _start(self) -> None:
        await ensure_topics(self._bootstrap, self._contract_topics, prefix=self._prefix)
        self._producer = new_producer(self._bootstrap, client_id=f"{self.name}-dlq")
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,  # offsets move only after the work has committed
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._max_poll_records,
        )
        self._consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        await self._consumer.start()
        self.broker_reachable = True
        log.info("consumer.started", consumer=self.name, topics=self._topics)

    async def _shutdown(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            try:
                await self.commit_pending(consumer)
            except Exception as exc:
                log.warning("consumer.final_commit_failed", consumer=self.name, error=repr(exc))
            await consumer.stop()
        if producer is not None:
            await producer.stop()
        self._pending.clear()

    async def _consume(self) -> None:
        assert self._consumer is not None
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(timeout_ms=500)
            for tp, records in batches.items():
                if self._stopping.is_set():
                    break
                next_offset = await self.handle_batch(records)
                if next_offset is not None:
                    self._pending[tp] = next_offset
            await self.commit_pending()
            self._record_lag(batches)

    def _record_lag(self, batches: Mapping[TopicPartition, list[Any]]) -> None:
        assert self._consumer is not None
        for tp, records in batches.items():
            highwater = self._consumer.highwater(tp)
            if highwater is not None and records:
                lag = max(0, highwater - (records[-1].offset + 1))
                CONSUMER_LAG.labels(service_name(), self.name, tp.topic, str(tp.partition)).set(lag)

    async def commit_pending(self, consumer: AIOKafkaConsumer | None = None) -> None:
        consumer = consumer or self._consumer
        if consumer is None or not self._pending:
            return
        # If this commit fails the records are redelivered later, and the inbox makes that harmless.
        offsets, self._pending = self._pending, {}
        await consumer.commit(offsets)

    async def handle_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> int | None:
        """Handle one partition's fetched records, in offset order, to final outcomes; the
        offset to commit (after the last record with one), None if none reached one (stopped).

        The records' handlers run in one transaction, each in a savepoint: one commit for the
        batch instead of one per record. A record that fails is rolled back alone, the work
        before it commits, and it then goes the per-record way (retries, dead letter) before
        the records after it run, so one aggregate's events still take effect in order.
        """
        next_offset: int | None = None
        run: list[_Parsed] = []

        async def handle_run() -> bool:
            nonlocal next_offset
            done = await self._handle_run(run)
            if done:
                next_offset = run[done - 1].record.offset + 1
            finished = done == len(run)
            run.clear()
            return finished

        for record in records:
            if self._stopping.is_set():
                break
            parsed = self._parse(record)
            if isinstance(parsed, _Parsed):
                run.append(parsed)
                continue
            # A dead letter waits for the records before it: offsets move in order.
            if run and not await handle_run():
                return next_offset
            if await self._dead_letter(record, parsed) is None:
                return next_offset
            next_offset = record.offset + 1
        if run and not self._stopping.is_set():
            await handle_run()
        return next_offset

    async def handle_record(self, record: ConsumerRecord[bytes, bytes]) -> _Outcome | None:
        """Handle one record to a final outcome; None only when stopped before one was reached."""
        parsed = self._parse(record)
        if not isinstance(parsed, _Parsed):
            return await self._dead_letter(record, parsed)
        return await self._handle_with_retries(parsed)

    def _parse(self, record: ConsumerRecord[bytes, bytes]) -> _Parsed | Exception:
        """The record's event, payload and handler, or why it can never be handled."""
        try:
            event = from_kafka(record.value, record.headers)
            if event.type not in EVENT_TYPES:
                raise UnknownEventTypeError(f"unknown event type {event.type!r}")
            handler = self._handlers.get(event.type)
            if handler is None:  # a known type this consumer does not need
                return _Parsed(record, event, None, None)
            return _Parsed(record, event, parse_payload(event), handler)
        except (MalformedEventError, UnknownEventTypeError, SchemaViolationError) as exc:
            return exc

    async def _handle_run(self, run: list[_Parsed]) -> int:
        """Handle ``run`` in batch transactions; how many of its records (from the first)
        reached a final outcome — fewer than all only when stopped."""
        done = 0
        while done < len(run):
            rest = run[done:]
            try:
                result = await self._batch_waiting_out_infrastructure(rest)
            except Exception as exc:
                # Something beyond one handler failed (the inbox insert, the commit): nothing
                # was committed, so take the records one by one, each with its own retries.
                log.warning(
                    "consumer.batch_failed", consumer=self.name, records=len(rest), error=repr(exc)
                )
                for item in rest:
                    if await self._handle_with_retries(item) is None:
                        return done
                    done += 1
                return done
            if result is None:
                return done
            committed, failure = result
            done += committed
            if failure is None:
                break
            if await self._handle_with_retries(run[done], failure) is None:
                return done
            done += 1
        return done

    async def _batch_waiting_out_infrastructure(
        self, run: list[_Parsed]
    ) -> tuple[int, Exception | None] | None:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._handle_batch_once(run)
            except Exception as exc:
                if not _is_infrastructure_error(exc):
                    raise
                delay = backoff_delay(attempt, base=self._retry_base, cap=self._retry_cap)
                log.warning(
                    "consumer.retry",
                    consumer=self.name,
                    records=len(run),
                    first_offset=run[0].record.offset,
                    attempt=attempt,
                    error=repr(exc),
                    retry_in_s=round(delay, 2),
                )
                if await sleep_or_stop(self._stopping, delay):
                    return None

    async def _handle_batch_once(self, run: list[_Parsed]) -> tuple[int, Exception | None]:
        """One transaction: the inbox rows of ``run`` at once, then each new event's handler in
        a savepoint. Stops at the first handler that fails: that one and the rest are taken
        out of the inbox again, the work before it commits. How many records were committed,
        and the failure. An infrastructure error rolls the whole transaction back (raised)."""
        handled: list[_Parsed] = []
        failure: Exception | None = None
        committed = len(run)
        async with unit_of_work(self._sessions) as session:
            rows = {
                item.event.id: {
                    "consumer": self.name,
                    "event_id": item.event.id,
                    "event_type": item.event.type,
                }
                for item in run
                if item.handler is not None
            }
            new: set[str] = set()
            if rows:
                new = set(
                    await session.scalars(
                        insert(self._inbox)
                        .values(list(rows.values()))
                        .on_conflict_do_nothing()
                        .returning(self._inbox.event_id)
                    )
                )
            inserted = frozenset(new)
            for index, item in enumerate(run):
                if item.handler is None:
                    continue
                if item.event.id not in new:  # done before, or earlier in this batch
                    log.info(
                        "consumer.duplicate_skipped", consumer=self.name, event_id=item.event.id
                    )
                    continue
                new.discard(item.event.id)
                assert item.payload is not None
                try:
                    with self._span(item):
                        async with session.begin_nested():
                            await item.handler(session, item.event, item.payload)
                except Exception as exc:
                    if _is_infrastructure_error(exc):
                        raise
                    failure, committed = exc, index
                    break
                handled.append(item)
            if failure is not None:
                # Left for the per-record path (and a dead letter must leave no inbox row).
                forget = inserted - {item.event.id for item in handled}
                await session.execute(
                    delete(self._inbox).where(
                        self._inbox.consumer == self.name, self._inbox.event_id.in_(forget)
                    )
                )
        for item in handled:
            self._count_handled(item.event)
        return committed, failure

    async def _handle_with_retries(
        self, item: _Parsed, failure: Exception | None = None
    ) -> _Outcome | None:
        """The per-record path: a transaction per attempt, retries with backoff, a dead letter
        on a permanent error or after max attempts; ``failure`` is a first attempt's error."""
        if item.handler is None:
            return _Outcome(handled=False)
        assert item.payload is not None
        attempt = 0 if failure is None else 1
        while True:
            if failure is not None:
                if isinstance(failure, PermanentEventError):
                    return await self._dead_letter(item.record, failure)
                infrastructure = _is_infrastructure_error(failure)
                if not infrastructure and attempt >= self._max_attempts:
                    return await self._dead_letter(item.record, failure)
                delay = backoff_delay(attempt, base=self._retry_base, cap=self._retry_cap)
                log.warning(
                    "consumer.retry",
                    consumer=self.name,
                    event_id=item.event.id,
                    event_type=item.event.type,
                    attempt=attempt,
                    error=repr(failure),
                    retry_in_s=round(delay, 2),
                )
                if await sleep_or_stop(self._stopping, delay):
                    return None
            attempt += 1
            try:
                with self._span(item):
                    done = await self._handle_once(item.event, item.payload, item.handler)
            except Exception as exc:
                failure = exc
                continue
            if done:
                self._count_handled(item.event)
            return _Outcome(handled=done)

    @contextmanager
    def _span(self, item: _Parsed) -> Iterator[None]:
        with span_from_event(
            f"process {item.record.topic}", item.event.traceparent, kind=SpanKind.CONSUMER
        ) as span:
            span.set_attribute("messaging.message.id", item.event.id)
            span.set_attribute("cloudevents.event_type", item.event.type)
            yield

    def _count_handled(self, event: CloudEvent) -> None:
        """After the event's transaction committed."""
        self.handled_count += 1
        CONSUMER_HANDLED.labels(service_name(), self.name, event.type).inc()
        if self._on_handled is not None:
            self._on_handled(event)

    async def _handle_once(self, event: CloudEvent, payload: BaseModel, handler: Handler) -> bool:
        async with unit_of_work(self._sessions) as session:
            inserted = await session.execute(
                insert(self._inbox)
                .values(consumer=self.name, event_id=event.id, event_type=event.type)
                .on_conflict_do_nothing()
                .returning(self._inbox.event_id)
            )
            if inserted.first() is None:
                log.info("consumer.duplicate_skipped", consumer=self.name, event_id=event.id)
                return False
            await handler(session, event, payload)
        return True

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException
    ) -> _Outcome | None:
        reason = str(exc) or exc.__class__.__name__
        headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")]
        headers += [
            (DLQ_REASON, reason[:4000].encode()),
            (DLQ_ERROR_CLASS, exc.__class__.__name__.encode()),
            (DLQ_ORIGINAL_TOPIC, record.topic.encode()),
            (DLQ_ORIGINAL_PARTITION, str(record.partition).encode()),
            (DLQ_ORIGINAL_OFFSET, str(record.offset).encode()),
            (DLQ_CONSUMER, self.name.encode()),
            (DLQ_FAILED_AT, datetime.now(UTC).isoformat().encode()),
        ]
        value = record.value
        attempt = 0
        while True:
            attempt += 1
            try:
                assert self._producer is not None
                await self._producer.send_and_wait(
                    dead_letter_topic(record.topic), value, key=record.key, headers=headers
                )
                break
            except MessageSizeTooLargeError as too_large:
                if value is None:  # already the dead-letter headers alone: nothing to cut
                    raise RuntimeError("dead letter too large even without a value") from too_large
                # Retrying the same bytes would block the partition for ever: send less.
                if len(value) > DLQ_TRUNCATED_VALUE_BYTES:
                    value = value[:DLQ_TRUNCATED_VALUE_BYTES]
                else:  # the original headers are too large: keep only the dead-letter ones
                    value = None
                    headers = [(k, v) for k, v in headers if k.startswith("dlq_")]
                size = len(record.value) if record.value is not None else 0
                headers = [(k, v) for k, v in headers if k != DLQ_VALUE_TRUNCATED]
                headers.append((DLQ_VALUE_TRUNCATED, str(size).encode()))
                log.warning(
                    "consumer.dlq_value_truncated",
                    consumer=self.name,
                    topic=record.topic,
                    offset=record.offset,
                    original_bytes=size,
                )
            except Exception as send_exc:
                # The offset must not move before the record is safe in the DLQ.
                log.warning("consumer.dlq_send_failed", consumer=self.name, error=repr(send_exc))
                if await sleep_or_stop(
                    self._stopping,
                    backoff_delay(attempt, base=self._retry_base, cap=self._retry_cap),
                ):
                    return None
        self.dead_letter_count += 1
        CONSUMER_DEAD_LETTERS.labels(service_name(), self.name, record.topic).inc()
        log.error(
            "consumer.dead_lettered",
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
        )
        return _Outcome(handled=False, dead_lettered=True)
