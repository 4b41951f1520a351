"""The idempotent consumer: inbox, retries, dead letters; real PostgreSQL, stub or real Kafka."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent, new_event, to_kafka
from gov_common.messaging.inbox import (
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_TOPIC,
    DLQ_REASON,
    IdempotentConsumer,
    PermanentEventError,
)
from gov_common.testing import Infrastructure, consumer_record

from .conftest import CommonDb, Effect, InboxRow
from .test_envelope import _case_created

pytestmark = pytest.mark.integration
CASE_CREATED = "gov.petitions.case.created.v1"
TOPIC = "petitions.case-events"


async def _record_effect(session: AsyncSession, event: CloudEvent, _: BaseModel) -> None:
    session.add(Effect(event_id=event.id, note=event.type))


def _consumer(db: CommonDb, handler: Any = _record_effect, **kwargs: Any) -> IdempotentConsumer:
    return IdempotentConsumer(
        name=f"test-{uuid.uuid4().hex[:8]}",
        topics=[TOPIC],
        handlers={CASE_CREATED: handler},
        session_factory=db.sessions,
        inbox_model=InboxRow,
        bootstrap_servers=kwargs.pop("bootstrap_servers", "unused:1"),
        retry_base_s=0.01,
        retry_cap_s=0.05,
        **kwargs,
    )


def _record(
    value: bytes | None, headers: list[tuple[str, bytes]], offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return consumer_record(TOPIC, value, headers, offset=offset)


def _valid_record() -> tuple[CloudEvent, ConsumerRecord[bytes, bytes]]:
    event = new_event(source="/test", type=CASE_CREATED, subject=None, data=_case_created())
    kafka = to_kafka(event, key="k")
    return event, _record(kafka.value, kafka.headers)


class _StubDlqProducer:
    def __init__(self) -> None:
        self.dead_letters: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    async def send_and_wait(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Any
    ) -> None:
        self.dead_letters.append((topic, value, dict(headers)))


async def _effects(db: CommonDb, event_id: str) -> int:
    async with db.sessions() as session:
        return (
            await session.scalar(
                select(func.count()).select_from(Effect).where(Effect.event_id == event_id)
            )
            or 0
        )


async def test_a_redelivered_event_is_handled_once(common_db: CommonDb) -> None:
    consumer = _consumer(common_db)
    event, record = _valid_record()
    first = await consumer.handle_record(record)
    again = await consumer.handle_record(record)
    assert first is not None and first.handled
    assert again is not None and not again.handled and not again.dead_lettered
    assert await _effects(common_db, event.id) == 1


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"\xff not json", None, "value is not JSON"),
        (b"{}", [("content-type", b"application/json")], "missing header(s) ce_id"),
        (None, "unknown-type", "unknown event type 'gov.nobody.knows.v1'"),
        (b'{"case_id": "not-a-uuid"}', "valid-headers", "payload invalid at case_id"),
    ],
)
async def test_poison_records_go_to_the_dead_letter_topic_with_their_reason(
    common_db: CommonDb, value: bytes | None, headers: Any, reason: str
) -> None:
    _, good = _valid_record()
    if headers is None or headers == "valid-headers":
        headers = list(good.headers)
    elif headers == "unknown-type":
        headers = [(k, b"gov.nobody.knows.v1" if k == "ce_type" else v) for k, v in good.headers]
        value = good.value
    consumer = _consumer(common_db)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]

    outcome = await consumer.handle_record(_record(value, headers, offset=41))

    assert outcome is not None and outcome.dead_lettered
    [(topic, dead_value, dead_headers)] = stub.dead_letters
    assert topic == TOPIC + ".dlq"
    assert dead_value == value
    assert reason in dead_headers[DLQ_REASON].decode()
    assert dead_headers[DLQ_ORIGINAL_OFFSET] == b"41"
    assert dead_headers[DLQ_ORIGINAL_TOPIC] == TOPIC.encode()


async def test_a_failing_handler_is_retried_then_dead_lettered_and_its_work_rolled_back(
    common_db: CommonDb,
) -> None:
    calls = 0

    async def broken(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        nonlocal calls
        calls += 1
        session.add(Effect(event_id=event.id, note="half done"))
        raise ValueError("template refers to a field the event lacks")

    consumer = _consumer(common_db, broken, max_attempts=3)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]
    event, record = _valid_record()

    outcome = await consumer.handle_record(record)

    assert outcome is not None and outcome.dead_lettered
    assert calls == 3
    assert "template refers" in stub.dead_letters[0][2][DLQ_REASON].decode()
    assert await _effects(common_db, event.id) == 0  # each attempt rolled back
    # Not in the inbox either: a later replay, after a fix, may handle it.
    async with common_db.sessions() as session:
        assert await session.get(InboxRow, (consumer.name, event.id)) is None


async def test_a_permanent_error_is_dead_lettered_at_once(common_db: CommonDb) -> None:
    async def refuses(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        raise PermanentEventError("case belongs to no org unit we know")

    consumer = _consumer(common_db, refuses, max_attempts=5)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]
    outcome = await consumer.handle_record(_valid_record()[1])
    assert outcome is not None and outcome.dead_lettered
    assert len(stub.dead_letters) == 1


async def test_an_unavailable_database_is_waited_out_beyond_max_attempts(
    common_db: CommonDb,
) -> None:
    failures = 0

    async def flaky(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        nonlocal failures
        if failures < 6:
            failures += 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database restarting"))
        session.add(Effect(event_id=event.id, note="done"))

    consumer = _consumer(common_db, flaky, max_attempts=2)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]
    event, record = _valid_record()
    outcome = await consumer.handle_record(record)
    assert outcome is not None and outcome.handled
    assert stub.dead_letters == []
    assert await _effects(common_db, event.id) == 1


def _batch(*events: CloudEvent, first_offset: int = 10) -> list[ConsumerRecord[bytes, bytes]]:
    records = []
    for offset, event in enumerate(events, start=first_offset):
        kafka = to_kafka(event, key="k")
        records.append(_record(kafka.value, kafka.headers, offset=offset))
    return records


def _case_event() -> CloudEvent:
    return new_event(source="/test", type=CASE_CREATED, subject=None, data=_case_created())


async def _inbox_ids(db: CommonDb, consumer: IdempotentConsumer) -> set[str]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(InboxRow.event_id).where(InboxRow.consumer == consumer.name)
        )
        return set(rows)


async def test_a_batch_commits_the_others_and_dead_letters_its_failing_record(
    common_db: CommonDb,
) -> None:
    first, broken, last = _case_event(), _case_event(), _case_event()
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        calls.append(event.id)
        session.add(Effect(event_id=event.id, note="done"))
        if event.id == broken.id:
            raise ValueError("template refers to a field the event lacks")

    consumer = _consumer(common_db, handler, max_attempts=3)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]

    next_offset = await consumer.handle_batch(_batch(first, broken, last))

    assert next_offset == 13
    # The failing one is retried by itself before the record after it runs.
    assert calls == [first.id, broken.id, broken.id, broken.id, last.id]
    assert [await _effects(common_db, e.id) for e in (first, broken, last)] == [1, 0, 1]
    [(topic, _, headers)] = stub.dead_letters
    assert topic == TOPIC + ".dlq" and headers[DLQ_ORIGINAL_OFFSET] == b"11"
    assert await _inbox_ids(common_db, consumer) == {first.id, last.id}
    assert consumer.handled_count == 2 and consumer.dead_letter_count == 1


async def test_a_record_failing_once_in_a_batch_is_retried_and_handled_in_order(
    common_db: CommonDb,
) -> None:
    events = [_case_event() for _ in range(4)]
    flaky = events[1]
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        calls.append(event.id)
        if event.id == flaky.id and calls.count(flaky.id) == 1:
            session.add(Effect(event_id=event.id, note="half done"))
            raise ValueError("lock not granted")
        session.add(Effect(event_id=event.id, note="done"))

    consumer = _consumer(common_db, handler, max_attempts=3)
    consumer._producer = _StubDlqProducer()  # type: ignore[assignment]

    assert await consumer.handle_batch(_batch(*events)) == 14

    assert calls == [events[0].id, flaky.id, flaky.id, events[2].id, events[3].id]
    assert [await _effects(common_db, e.id) for e in events] == [1, 1, 1, 1]
    assert await _inbox_ids(common_db, consumer) == {e.id for e in events}
    assert consumer.handled_count == 4 and consumer.dead_letter_count == 0


async def test_duplicates_in_a_batch_and_events_handled_before_are_skipped(
    common_db: CommonDb,
) -> None:
    earlier, fresh = _case_event(), _case_event()
    calls: list[str] = []

    async def handler(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        calls.append(event.id)
        session.add(Effect(event_id=event.id, note="done"))

    consumer = _consumer(common_db, handler)
    assert await consumer.handle_batch(_batch(earlier)) == 11

    next_offset = await consumer.handle_batch(_batch(earlier, fresh, fresh, earlier, fresh))

    assert next_offset == 15
    assert calls == [earlier.id, fresh.id]
    assert await _effects(common_db, earlier.id) == await _effects(common_db, fresh.id) == 1
    assert consumer.handled_count == 2


async def test_an_infrastructure_error_mid_batch_loses_nothing(common_db: CommonDb) -> None:
    events = [_case_event() for _ in range(3)]
    calls: list[str] = []
    outages = 0

    async def handler(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        nonlocal outages
        calls.append(event.id)
        session.add(Effect(event_id=event.id, note="done"))
        if event.id == events[1].id and outages < 3:
            outages += 1
            raise OperationalError("INSERT", {}, ConnectionResetError("database restarting"))

    consumer = _consumer(common_db, handler, max_attempts=2)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]

    assert await consumer.handle_batch(_batch(*events)) == 13

    # The whole transaction went back each time (beyond max_attempts: it is waited out).
    assert calls == [events[0].id, events[1].id] * 4 + [events[2].id]
    assert [await _effects(common_db, e.id) for e in events] == [1, 1, 1]
    assert await _inbox_ids(common_db, consumer) == {e.id for e in events}
    assert stub.dead_letters == [] and consumer.handled_count == 3


async def test_a_poison_record_in_a_batch_is_dead_lettered_between_the_others(
    common_db: CommonDb,
) -> None:
    before, after = _case_event(), _case_event()
    records = _batch(before, _case_event(), after)
    records[1] = _record(b"\xff not json", list(records[1].headers), offset=11)
    consumer = _consumer(common_db)
    stub = _StubDlqProducer()
    consumer._producer = stub  # type: ignore[assignment]

    assert await consumer.handle_batch(records) == 13

    assert [h[DLQ_ORIGINAL_OFFSET] for _, _, h in stub.dead_letters] == [b"11"]
    assert await _effects(common_db, before.id) == await _effects(common_db, after.id) == 1
    assert consumer.handled_count == 2 and consumer.dead_letter_count == 1


async def test_a_batch_stopped_while_retrying_commits_the_offset_before_the_failing_record(
    common_db: CommonDb,
) -> None:
    first, broken, last = _case_event(), _case_event(), _case_event()

    async def handler(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        if event.id == broken.id:
            consumer.stop()  # shutting down while this one waits for its retry
            raise ValueError("not yet")
        session.add(Effect(event_id=event.id, note="done"))

    consumer = _consumer(common_db, handler, max_attempts=5)

    assert await consumer.handle_batch(_batch(first, broken, last)) == 11

    assert await _effects(common_db, first.id) == 1
    assert await _effects(common_db, last.id) == 0  # redelivered after the restart
    assert await _inbox_ids(common_db, consumer) == {first.id}


async def test_against_kafka_poison_goes_to_dlq_and_consumption_goes_on(
    common_db: CommonDb, infrastructure: Infrastructure, topic_prefix: str
) -> None:
    topic = topic_prefix + TOPIC
    consumer = _consumer(
        common_db,
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        topic_prefix=topic_prefix,
    )
    task = asyncio.create_task(consumer.run())
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        event, good = _valid_record()
        await producer.send_and_wait(
            topic, b"<xml>not json</xml>", key=b"k", headers=list(good.headers)
        )
        await producer.send_and_wait(topic, good.value, key=b"k", headers=list(good.headers))
        async with asyncio.timeout(60):
            while await _effects(common_db, event.id) == 0:
                await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        consumer.stop()
        await asyncio.wait_for(task, timeout=30)

    dlq = AIOKafkaConsumer(
        topic + ".dlq",
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await dlq.start()
    try:
        record = await asyncio.wait_for(dlq.getone(), timeout=30)
    finally:
        await dlq.stop()
    assert record.value == b"<xml>not json</xml>"
    assert b"value is not JSON" in dict(record.headers)[DLQ_REASON]
    assert consumer.dead_letter_count == 1 and consumer.handled_count == 1
