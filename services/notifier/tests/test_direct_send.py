"""A delivery planned by the consumer is claimed in the planning transaction and sent as soon
as that transaction commits; the claim rounds only pick up what it leaves (over a channel's
rate, quiet hours, retries) and what a dead process left (after the lease). Attempts of a
batch are recorded together."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.clock import CHINA_TZ
from gov_common.db import unit_of_work
from gov_common.events import CloudEvent, parse_payload, to_kafka
from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.events.notifier import DELIVERY_FAILED_V1, DELIVERY_SUCCEEDED_V1
from gov_common.messaging.inbox import Handler, IdempotentConsumer
from gov_common.testing import consumer_record
from notifier.channels.base import Attempt
from notifier.config import Settings
from notifier.consumers import event_handlers
from notifier.db import InboxMessage
from notifier.deliveries import service
from notifier.deliveries.dispatcher import DeliveryDispatcher
from notifier.deliveries.models import Delivery, DeliveryStatus
from notifier.deliveries.ratelimit import TokenBucket

from .conftest import Receiver, running
from .test_deliveries import _deliveries, _outbox, _plan, _setup, overdue_event


def _dispatcher(app: FastAPI, settings: Settings) -> DeliveryDispatcher:
    return DeliveryDispatcher(
        session_factory=app.state.sessions, settings=settings, cipher=app.state.cipher
    )


def _quiet_rounds(app: FastAPI, settings: Settings) -> tuple[Settings, DeliveryDispatcher]:
    """Claim rounds only when woken: a send that happens came from the direct path."""
    settings = settings.model_copy(update={"dispatch_poll_interval_s": 3600.0})
    return settings, _dispatcher(app, settings)


@contextlib.asynccontextmanager
async def _dispatching(dispatcher: DeliveryDispatcher) -> AsyncIterator[DeliveryDispatcher]:
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(0.2)  # its first round (on an empty table) is over
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await task


async def _handle(
    app: FastAPI, settings: Settings, dispatcher: DeliveryDispatcher, event: CloudEvent
) -> None:
    """What the consumer does with one record: the handler inside one transaction."""
    handlers = event_handlers(
        settings, [PETITIONS_CASE_EVENTS], cipher=app.state.cipher, dispatcher=dispatcher
    )
    async with unit_of_work(app.state.sessions) as session:
        await handlers[event.type](session, event, parse_payload(event))


async def _until_final(app: FastAPI, event: CloudEvent, count: int) -> list[Delivery]:
    async with asyncio.timeout(20):
        while True:
            rows = await _deliveries(app, event)
            if len(rows) == count and all(d.status is not DeliveryStatus.PENDING for d in rows):
                return rows
            await asyncio.sleep(0.05)


async def test_a_planned_delivery_is_sent_once_its_transaction_commits(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    settings, dispatcher = _quiet_rounds(app, settings)
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        event = overdue_event()
        async with _dispatching(dispatcher):
            await _handle(app, settings, dispatcher, event)
            rows = await _until_final(app, event, 2)
    assert {d.status for d in rows} == {DeliveryStatus.SUCCEEDED}
    assert all(d.attempts == 1 and d.delivered_at is not None for d in rows)
    assert len(unit.accepted()) == len(boss.accepted()) == 1
    assert sorted(t for t, _ in await _outbox(app)) == [DELIVERY_SUCCEEDED_V1] * 2


async def test_a_planning_transaction_that_rolls_back_sends_nothing(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    settings, dispatcher = _quiet_rounds(app, settings)
    handlers = event_handlers(
        settings, [PETITIONS_CASE_EVENTS], cipher=app.state.cipher, dispatcher=dispatcher
    )
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        event = overdue_event()
        async with _dispatching(dispatcher):
            with contextlib.suppress(RuntimeError):
                async with unit_of_work(app.state.sessions) as session:
                    await handlers[event.type](session, event, parse_payload(event))
                    raise RuntimeError("the inbox insert failed after the handler")
            await asyncio.sleep(0.5)
    assert unit.requests == [] and boss.requests == []
    assert await _deliveries(app, event) == []


def _records(*events: CloudEvent) -> list[ConsumerRecord[bytes, bytes]]:
    kafka = [to_kafka(event, key="k") for event in events]
    return [
        consumer_record(PETITIONS_CASE_EVENTS, k.value, k.headers, offset=offset)
        for offset, k in enumerate(kafka)
    ]


async def test_a_consumed_batch_sends_after_its_commit_and_nothing_of_a_rolled_back_handler(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    settings, dispatcher = _quiet_rounds(app, settings)
    handlers = event_handlers(
        settings, [PETITIONS_CASE_EVENTS], cipher=app.state.cipher, dispatcher=dispatcher
    )
    events = [overdue_event() for _ in range(3)]
    failed_once: set[str] = set()

    def failing_once_after_planning(handler: Handler) -> Handler:
        async def handle(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
            await handler(session, event, payload)  # planned, claimed, send registered
            if event.id == events[1].id and event.id not in failed_once:
                failed_once.add(event.id)
                raise ValueError("failed after planning")

        return handle

    consumer = IdempotentConsumer(
        name=f"batch-{uuid.uuid4().hex[:8]}",
        topics=[PETITIONS_CASE_EVENTS],
        handlers={t: failing_once_after_planning(h) for t, h in handlers.items()},
        session_factory=app.state.sessions,
        inbox_model=InboxMessage,
        bootstrap_servers="unused:1",
        retry_base_s=0.01,
        retry_cap_s=0.05,
    )
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        async with _dispatching(dispatcher):
            assert await consumer.handle_batch(_records(*events)) == 3
            rows = [await _until_final(app, event, 2) for event in events]
    assert failed_once == {events[1].id}
    # Each sent once, straight after a commit (the claim rounds sleep): the rolled-back
    # planning of the failing handler sent nothing, its retry sent its own.
    assert all(d.status is DeliveryStatus.SUCCEEDED and d.attempts == 1 for r in rows for d in r)
    assert len(unit.accepted()) == len(boss.accepted()) == 3
    assert len({r["headers"]["webhook-id"] for r in unit.requests}) == 3


async def test_a_process_dead_after_the_commit_leaves_the_delivery_to_the_lease(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    dying = _dispatcher(app, settings)
    dying.stop()  # commits, but never gets to send: as if killed right after the commit
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        event = overdue_event()
        await _handle(app, settings, dying, event)
        leased = await _deliveries(app, event)
        assert [d.attempts for d in leased] == [1, 1]
        assert all(d.next_attempt_at > datetime.now(UTC) for d in leased)

        survivor = _dispatcher(app, settings)
        assert await survivor.dispatch_once() == 0  # still leased: nobody sends it
        async with unit_of_work(app.state.sessions) as session:  # the lease ends
            await session.execute(
                update(Delivery)
                .where(Delivery.event_id == event.id)
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        assert await survivor.dispatch_once() == 2
    rows = await _deliveries(app, event)
    assert {d.status for d in rows} == {DeliveryStatus.SUCCEEDED}
    assert [d.attempts for d in rows] == [2, 2]
    assert len(unit.requests) == len(boss.requests) == 1  # sent once each


async def test_over_the_channel_rate_the_rest_is_left_to_the_claim_rounds(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _setup(client, unit_hook="http://unit.example/h", supervisor_hook="http://boss.example/h")
    event = overdue_event()
    send_now = service.SendNow(lease=timedelta(seconds=30), take=lambda _: next(allowed))
    allowed = iter([True, False])
    planned = await _plan(app, settings, event, send_now)
    assert planned == 2 and len(send_now.claimed) == 1 and send_now.refused == 1
    [claimed] = send_now.claimed
    rows = {d.id: d for d in await _deliveries(app, event)}
    assert rows[claimed.id].attempts == 1
    assert rows[claimed.id].next_attempt_at > datetime.now(UTC)
    [other] = [d for d in rows.values() if d.id != claimed.id]
    assert other.attempts == 0 and other.next_attempt_at <= datetime.now(UTC)


def test_a_send_is_taken_from_the_bucket_only_when_one_is_there() -> None:
    bucket = TokenBucket(1, 3600)
    assert bucket.try_acquire() is True
    assert bucket.try_acquire() is False
    assert bucket.available() == 0


async def test_a_batch_of_attempts_is_recorded_together(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _setup(client, unit_hook="http://unit.example/h", supervisor_hook="http://boss.example/h")
    events = [overdue_event() for _ in range(4)]
    handlers = event_handlers(settings, [PETITIONS_CASE_EVENTS], cipher=app.state.cipher)
    async with unit_of_work(app.state.sessions) as session:
        for event in events:
            await handlers[event.type](session, event, parse_payload(event))
        claimed = await service.claim_due(session, limit=100, lease=timedelta(seconds=30))
    by_event: dict[str, Delivery] = {}
    for delivery in claimed:
        by_event.setdefault(delivery.event_id, delivery)
    ok, retry, refused, stale = (by_event[e.id] for e in events)
    stale.attempts += 5  # an outcome of an attempt that is no longer the delivery's last
    address = "http://unit.example/h"
    async with unit_of_work(app.state.sessions) as session:
        verdicts = await service.record_attempts(
            session,
            [
                (ok, Attempt(ok=True, status_code=200), address),
                (retry, Attempt(ok=False, status_code=503, error="busy"), address),
                (refused, Attempt(ok=False, status_code=410, permanent=True, error="gone"), None),
                (stale, Attempt(ok=True, status_code=200), address),
            ],
            max_attempts=3,
            retry_base_s=10,
            retry_cap_s=60,
            events_topic=settings.topic("x"),
        )
    assert verdicts == [
        DeliveryStatus.SUCCEEDED,
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
        DeliveryStatus.SUCCEEDED,
    ]
    rows = {d.id: d for e in events for d in await _deliveries(app, e)}
    assert rows[ok.id].status is DeliveryStatus.SUCCEEDED and rows[ok.id].response_status == 200
    assert rows[ok.id].delivered_at is not None and rows[ok.id].last_error is None
    assert rows[retry.id].status is DeliveryStatus.PENDING
    assert rows[retry.id].last_error == "busy" and rows[retry.id].response_status == 503
    assert rows[retry.id].next_attempt_at > datetime.now(UTC) + timedelta(seconds=2)
    assert rows[retry.id].delivered_at is None
    assert rows[refused.id].status is DeliveryStatus.FAILED
    assert rows[refused.id].last_error == "gone" and rows[refused.id].delivered_at is None
    assert rows[stale.id].status is DeliveryStatus.PENDING  # left as the later claim made it
    assert rows[stale.id].response_status is None
    outcomes = sorted((p["delivery_id"], t) for t, p in await _outbox(app))
    assert outcomes == sorted(
        [(str(ok.id), DELIVERY_SUCCEEDED_V1), (str(refused.id), DELIVERY_FAILED_V1)]
    )


async def test_a_delivery_held_by_quiet_hours_is_not_sent_at_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    now = datetime.now(CHINA_TZ)
    await _setup(
        client,
        unit_hook="http://unit.example/h",
        supervisor_hook="http://boss.example/h",
        supervisor_extra={
            "quiet_start": (now - timedelta(hours=1)).time().replace(microsecond=0).isoformat(),
            "quiet_end": (now + timedelta(hours=2)).time().replace(microsecond=0).isoformat(),
        },
    )
    event = overdue_event()
    send_now = service.SendNow(lease=timedelta(seconds=30), take=lambda _: True)
    await _plan(app, settings, event, send_now)
    by_address = {d.recipient: d for d in await _deliveries(app, event)}
    assert [d.id for d in send_now.claimed] == [by_address["http://unit.example/h"].id]
    assert by_address["http://boss.example/h"].attempts == 0  # waits for the morning's round
