"""Replaying a dead-letter topic: what one consumer dead-lettered goes back to the topic, is
handled once the cause is fixed, and a second replay sends nothing again."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent, new_event, to_kafka
from gov_common.messaging.inbox import (
    DLQ_CONSUMER,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    DLQ_VALUE_TRUNCATED,
    IdempotentConsumer,
    PermanentEventError,
)
from gov_common.messaging.kafka import ensure_topics
from gov_common.messaging.replay import main, replay_dead_letters
from gov_common.testing import Infrastructure

from .conftest import CommonDb, InboxRow
from .test_envelope import _case_created
from .test_inbox import CASE_CREATED, TOPIC, _effects, _record_effect

pytestmark = pytest.mark.integration


async def _not_yet(session: AsyncSession, event: CloudEvent, _: BaseModel) -> None:
    raise PermanentEventError("recipient not configured yet")


async def _run_until(consumer: IdempotentConsumer, done: object, timeout_s: float = 60) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(timeout_s):
            while not await done():  # type: ignore[operator]
                await asyncio.sleep(0.2)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, timeout=30)


async def test_dead_letters_replayed_after_the_fix_are_handled_once(
    common_db: CommonDb, infrastructure: Infrastructure, topic_prefix: str
) -> None:
    bootstrap = infrastructure.kafka_bootstrap_servers
    topic = topic_prefix + TOPIC
    await ensure_topics(bootstrap, [TOPIC], prefix=topic_prefix)
    name = f"notifier-{uuid.uuid4().hex[:6]}"

    def consumer(handler: object) -> IdempotentConsumer:
        return IdempotentConsumer(
            name=name,
            topics=[TOPIC],
            handlers={CASE_CREATED: handler},  # type: ignore[dict-item]
            session_factory=common_db.sessions,
            inbox_model=InboxRow,
            bootstrap_servers=bootstrap,
            topic_prefix=topic_prefix,
            retry_base_s=0.01,
            retry_cap_s=0.05,
        )

    events = [
        new_event(source="/test", type=CASE_CREATED, subject=None, data=_case_created())
        for _ in range(3)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            record = to_kafka(event, key=str(event.id))
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
        # Beside them on the dead-letter topic: another consumer's dead letter, and one whose
        # value was cut to fit.
        other = to_kafka(events[0], key="other")
        await producer.send_and_wait(
            topic + ".dlq",
            other.value,
            key=other.key,
            headers=[
                *other.headers,
                (DLQ_CONSUMER, b"targets-api"),
                (DLQ_ORIGINAL_TOPIC, topic.encode()),
            ],
        )
        await producer.send_and_wait(
            topic + ".dlq",
            b"{cut",
            key=b"cut",
            headers=[
                (DLQ_CONSUMER, name.encode()),
                (DLQ_ORIGINAL_TOPIC, topic.encode()),
                (DLQ_ORIGINAL_PARTITION, b"0"),
                (DLQ_ORIGINAL_OFFSET, b"41"),
                (DLQ_VALUE_TRUNCATED, b"2000000"),
            ],
        )
    finally:
        await producer.stop()

    first = consumer(_not_yet)

    async def all_dead() -> bool:
        return first.dead_letter_count == len(events)

    await _run_until(first, all_dead)
    assert [await _effects(common_db, e.id) for e in events] == [0, 0, 0]

    dry = await replay_dead_letters(bootstrap, topic, consumer=name, dry_run=True)
    assert dry.replayed == len(events)  # counted, nothing sent, nothing remembered
    report = await replay_dead_letters(bootstrap, topic, consumer=name)
    assert report.replayed == len(events)
    assert report.skipped_other_consumer == 1
    assert report.not_replayable == [("0", "41", "value truncated")]
    assert list(report.reasons.values()) == [len(events)]

    fixed = consumer(_record_effect)

    async def all_handled() -> bool:
        counts = [await _effects(common_db, e.id) for e in events]
        return counts == [1, 1, 1]

    await _run_until(fixed, all_handled)
    assert fixed.dead_letter_count == 0

    again = await replay_dead_letters(bootstrap, topic, consumer=name)
    assert again.replayed == 0 and again.not_replayable == []


async def test_the_command_refuses_a_topic_without_dead_letters(
    infrastructure: Infrastructure, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infrastructure.kafka_bootstrap_servers)
    monkeypatch.setenv("GOV_KAFKA_TOPIC_PREFIX", topic_prefix + "none.")
    with pytest.raises(SystemExit, match="no dead-letter topic"):
        await asyncio.to_thread(main, [TOPIC, "--dry-run"])
