"""The transactional outbox and its relay, against real PostgreSQL (and Kafka where named)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from gov_common.db import unit_of_work
from gov_common.events import new_event
from gov_common.messaging.outbox import OutboxRelay, add_to_outbox
from gov_common.testing import Infrastructure

from .conftest import CommonDb, OutboxRow

pytestmark = pytest.mark.integration
TOPIC = "petitions.case-events"


async def _add(db: CommonDb, topic: str, *keys: str) -> list[str]:
    ids = []
    async with unit_of_work(db.sessions) as session:
        for key in keys:
            event = new_event(
                source="/test", type="gov.test.thing.happened.v1", subject=key, data={"k": key}
            )
            await add_to_outbox(session, OutboxRow, topic=topic, key=key, event=event)
            ids.append(event.id)
    return ids


def _relay(db: CommonDb, infra: Infrastructure, prefix: str, **kwargs: Any) -> OutboxRelay:
    return OutboxRelay(
        model=OutboxRow,
        session_factory=db.sessions,
        dsn=db.dsn,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        client_id="test-relay",
        topics=[TOPIC],
        topic_prefix=prefix,
        **kwargs,
    )


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        relay.stop()
        await asyncio.wait_for(task, timeout=30)


async def _consume(
    infra: Infrastructure, topic: str, count: int, *, within_s: float = 60
) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(within_s):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_committed_events_are_published_in_order_and_rolled_back_ones_never(
    common_db: CommonDb, infrastructure: Infrastructure, topic_prefix: str
) -> None:
    topic = topic_prefix + TOPIC
    first = await _add(common_db, topic, "case-a", "case-b", "case-a")
    with pytest.raises(RuntimeError):
        async with unit_of_work(common_db.sessions) as session:
            event = new_event(
                source="/test", type="gov.test.thing.happened.v1", subject="x", data={}
            )
            await add_to_outbox(session, OutboxRow, topic=topic, key="case-a", event=event)
            raise RuntimeError("the request failed after writing")
    second = await _add(common_db, topic, "case-a")

    async with running(_relay(common_db, infrastructure, topic_prefix)):
        records = await _consume(infrastructure, topic, 4)
        await asyncio.sleep(1)  # give a wrongly published rolled-back row the chance to show
        records += await _consume(infrastructure, topic, 0, within_s=5)

    published = [dict(r.headers)["ce_id"].decode() for r in records]
    assert sorted(published) == sorted(first + second)  # exactly these, once each
    per_key_a = [dict(r.headers)["ce_id"].decode() for r in records if r.key == b"case-a"]
    assert per_key_a == [first[0], first[2], second[0]]  # commit order within the key
    async with common_db.sessions() as session:
        rows = (await session.scalars(select(OutboxRow).where(OutboxRow.topic == topic))).all()
    assert all(row.sent_at is not None for row in rows)


async def test_relay_is_woken_by_a_commit_not_by_its_slow_poll(
    common_db: CommonDb, infrastructure: Infrastructure, topic_prefix: str
) -> None:
    topic = topic_prefix + TOPIC
    relay = _relay(common_db, infrastructure, topic_prefix, poll_interval_s=600)
    async with running(relay):
        # Leading and connected once the first row is out (it publishes at once when it leads).
        [warm_up] = await _add(common_db, topic, "warm-up")
        await _wait_until_sent(common_db, warm_up)
        [event_id] = await _add(common_db, topic, "case-c")
        # The next poll is ten minutes away: only the NOTIFY at commit can send it before.
        await _wait_until_sent(common_db, event_id)


async def test_rows_committed_while_the_relay_is_busy_leave_in_one_batch(
    common_db: CommonDb, infrastructure: Infrastructure, topic_prefix: str
) -> None:
    topic = topic_prefix + TOPIC
    # A window far longer than the three commits below take (about a second).
    relay = _relay(common_db, infrastructure, topic_prefix, coalesce_s=3)
    async with running(relay):
        busy = await _add(common_db, topic, "case-a", "case-b")  # a batch of two rows
        await _wait_until_sent(common_db, busy[-1])
        later = []
        for key in ("case-c", "case-d", "case-e"):
            # Spaced out: without the window, each would leave in a batch of its own.
            await asyncio.sleep(0.3)
            later += await _add(common_db, topic, key)
        await _wait_until_sent(common_db, later[-1])
        records = await _consume(infrastructure, topic, 5)
    async with common_db.sessions() as session:
        marked = await session.scalars(
            select(OutboxRow.sent_at).where(OutboxRow.event_id.in_(later))
        )
        sent_at = set(marked.all())
    assert len(sent_at) == 1  # three transactions' rows marked by one batch
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(busy + later)


async def _wait_until_sent(db: CommonDb, event_id: str, within_s: float = 60) -> None:
    async with asyncio.timeout(within_s):
        while True:
            async with db.sessions() as session:
                row = await session.scalar(select(OutboxRow).where(OutboxRow.event_id == event_id))
            if row is not None and row.sent_at is not None:
                return
            await asyncio.sleep(0.2)


class _StubProducer:
    """Acknowledges or refuses sends, as a broker would, without a broker."""

    def __init__(self, refuse_keys: set[bytes]) -> None:
        self.refuse_keys = refuse_keys
        self.sent: list[bytes | None] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None, headers: Any
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if key in self.refuse_keys:
            future.set_exception(ConnectionError("broker went away"))
        else:
            self.sent.append(key)
            future.set_result(None)
        return future

    async def stop(self) -> None:
        return None


async def test_only_acknowledged_rows_are_marked_sent_and_failures_are_recorded(
    common_db: CommonDb, topic_prefix: str
) -> None:
    topic = topic_prefix + TOPIC
    await _add(common_db, topic, "ok-1", "bad", "ok-2")
    relay = _relay(common_db, Infrastructure({}, "unused:1", "stub"), topic_prefix)
    stub = _StubProducer(refuse_keys={b"bad"})
    relay._producer = stub  # type: ignore[assignment]

    with pytest.raises(RuntimeError, match="1 outbox row"):
        for _ in range(100):  # rows of other tests may come first: publish until ours fail
            await relay.publish_batch()

    async with common_db.sessions() as session:
        rows = {
            r.message_key: r
            for r in await session.scalars(select(OutboxRow).where(OutboxRow.topic == topic))
        }
    assert rows["ok-1"].sent_at is not None and rows["ok-2"].sent_at is not None
    assert rows["bad"].sent_at is None
    assert rows["bad"].attempts == 1
    assert "broker went away" in (rows["bad"].last_error or "")
