"""The live first-time grassroots resolution rate, fed by petitions case events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from gov_common.clock import today_in_china
from gov_common.events import new_event, to_kafka
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.messaging.inbox import IdempotentConsumer
from gov_common.testing import Infrastructure
from gov_common.testing import TestAuth as SessionAuth
from targets_api.config import Settings
from targets_api.db import InboxMessage
from targets_api.live.consumers import case_event_handlers

pytestmark = pytest.mark.integration

TODAY = today_in_china()
SOURCE = "/gov/petitions-api"


def _base(case_id: uuid.UUID, at: datetime, first_time: bool = True) -> dict[str, Any]:
    return {
        "case_id": str(case_id),
        "case_number": f"XF{TODAY.year}-{case_id.int % 10**8:08d}",
        "kind": "petition_case",
        "occurred_at": at.isoformat(),
        "first_time": first_time,
        "handling_unit_id": "town-a",
    }


def created(case_id: uuid.UUID, at: datetime, first_time: bool = True) -> Any:
    data = {
        **_base(case_id, at, first_time),
        "channel": "visit",
        "subject": "供暖",
        "received_on": TODAY.isoformat(),
        "created_at": at.isoformat(),
    }
    data.pop("occurred_at")
    return new_event(
        source=SOURCE,
        type="gov.petitions.case.created.v1",
        subject=str(case_id),
        data=data,
        time=at,
    )


def resolved(
    case_id: uuid.UUID,
    at: datetime,
    *,
    grassroots: bool = True,
    effective: bool = True,
    first_time: bool = True,
    on: date = TODAY,
) -> Any:
    data = {
        **_base(case_id, at, first_time),
        "resolved_on": on.isoformat(),
        "resolution_unit_id": "town-a",
        "resolution_level": "town" if grassroots else "district",
        "grassroots": grassroots,
        "effective": effective,
        "town_unit_id": "town-a",
        "definition_version": "2023.1",
    }
    return new_event(
        source=SOURCE,
        type="gov.petitions.case.resolved.v1",
        subject=str(case_id),
        data=data,
        time=at,
    )


def closed(
    case_id: uuid.UUID,
    at: datetime,
    *,
    rating: str | None = "satisfied",
    first_time: bool = True,
    on: date = TODAY,
    kind: str = "petition_case",
) -> Any:
    data = {**_base(case_id, at, first_time), "closed_on": on.isoformat(), "rating": rating}
    data["kind"] = kind
    return new_event(
        source=SOURCE,
        type="gov.petitions.case.closed.v1",
        subject=str(case_id),
        data=data,
        time=at,
    )


def reopened(case_id: uuid.UUID, at: datetime) -> Any:
    data = {**_base(case_id, at), "reason": "群众不满意"}
    return new_event(
        source=SOURCE,
        type="gov.petitions.case.reopened.v1",
        subject=str(case_id),
        data=data,
        time=at,
    )


async def _live_plan(client: httpx.AsyncClient, plan_code: str, start: date, end: date) -> str:
    await client.post(
        "/v1/plans",
        json={
            "code": plan_code,
            "name_zh": "计划",
            "year": start.year,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
        },
    )
    response = await client.post(
        f"/v1/plans/{plan_code}/indicators",
        json={
            "code": "GOV-03",
            "name_zh": "初信初访事项80%以上在基层得到有效化解",
            "kind": "percentage",
            "unit": "percent",
            "target": 80,
            "live_source": "petitions.first_time_grassroots_rate",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class Harness:
    """Runs case events through the service's handlers inside the inbox, as the consumer does."""

    def __init__(self, app: FastAPI, settings: Settings, name: str) -> None:
        self.consumer = IdempotentConsumer(
            name=name,
            topics=[PETITIONS_CASE_EVENTS],
            handlers=case_event_handlers(settings),
            session_factory=app.state.sessions,
            inbox_model=InboxMessage,
            bootstrap_servers=settings.kafka_bootstrap_servers,
        )

    async def feed(self, *events: Any) -> None:
        from gov_common.events.registry import parse_payload

        for event in events:
            await self.consumer._handle_once(
                event, parse_payload(event), self.consumer._handlers[event.type]
            )


async def test_the_rate_counts_first_time_cases_resolved_effectively_at_the_grassroots(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, plan_code: str
) -> None:
    # A period of its own in the past, so cases of other tests do not fall into it.
    start = date(2001, 1, 1) + timedelta(days=uuid.uuid4().int % 2500)
    end = start + timedelta(days=30)
    indicator_id = await _live_plan(client, plan_code, start, end)
    feed = Harness(app, settings, f"live-{plan_code}").feed
    t0 = datetime(start.year, start.month, start.day, 9, tzinfo=UTC)
    a, b, c, d, e, f = (uuid.uuid4() for _ in range(6))
    hour = timedelta(hours=1)
    await feed(
        created(a, t0),
        resolved(a, t0 + hour, on=start),
        closed(a, t0 + 2 * hour, on=start),  # counted: grassroots, satisfied
        created(b, t0),
        resolved(b, t0 + hour, grassroots=False, on=start),
        closed(b, t0 + 2 * hour, on=start),  # concluded, but answered by the district
        created(c, t0),
        resolved(c, t0 + hour, on=start),
        closed(c, t0 + 2 * hour, rating="dissatisfied", on=start),  # not effective
        created(d, t0, first_time=False),  # a repeat petition: outside the figure
        resolved(d, t0 + hour, first_time=False, on=start),
        closed(d, t0 + 2 * hour, first_time=False, on=start),
        created(e, t0),
        resolved(e, t0 + hour, on=end),
        closed(e, t0 + 2 * hour, on=end + timedelta(days=1)),  # concluded after the period
        resolved(f, t0 + hour, on=start),
        closed(f, t0 + 2 * hour, on=start, kind="hotline_ticket"),  # 12345 tickets do not count
    )
    rate = (
        await client.get(
            "/v1/live/first-time-grassroots-rate",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
    ).json()
    assert (rate["concluded_effectively_at_grassroots"], rate["first_time_concluded"]) == (1, 3)
    assert rate["rate_percent"] == pytest.approx(33.33)
    assert rate["definition_versions"] == ["2023.1"]
    assert rate["cases_url"] == (
        "http://petitions.test/v1/metrics/first-time-grassroots-resolution/cases"
        f"?from={start}&to={end}"
    )

    detail = (await client.get(f"/v1/indicators/{indicator_id}")).json()
    assert detail["live"]["numerator"] == 1 and detail["live"]["denominator"] == 3
    assert detail["live"]["period_start"] == start.isoformat()
    assert detail["live"]["period_end"] == end.isoformat()
    assert detail["live"]["metric_url"].startswith("http://petitions.test/v1/metrics/")
    assert detail["progress"]["value"] == "33.33"
    assert detail["status"] == "overdue"  # the period is over and the rate is below 80%

    # Reopening b takes it out until it is closed again; a late, older event changes nothing.
    await feed(reopened(b, t0 + 3 * hour))
    await feed(closed(b, t0 + 150 * timedelta(minutes=1), on=start))
    detail = (await client.get(f"/v1/indicators/{indicator_id}")).json()
    assert (detail["live"]["numerator"], detail["live"]["denominator"]) == (1, 2)
    await feed(resolved(b, t0 + 4 * hour, on=start), closed(b, t0 + 5 * hour, on=start))
    detail = (await client.get(f"/v1/indicators/{indicator_id}")).json()
    assert (detail["live"]["numerator"], detail["live"]["denominator"]) == (2, 3)


def repeat_changed(case_id: uuid.UUID, at: datetime, *, first_time: bool, change: str) -> Any:
    data = {
        **_base(case_id, at, first_time),
        "change": change,
        "repeat_of": None if first_time else str(uuid.uuid4()),
        "repeat_confirmed": not first_time,
    }
    return new_event(
        source=SOURCE,
        type="gov.petitions.case.repeat_changed.v1",
        subject=str(case_id),
        data=data,
        time=at,
    )


async def test_linking_and_unlinking_a_repeat_moves_the_rate(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, plan_code: str
) -> None:
    # A repeat decision taken after the case was closed changes who is first-time (初信初访):
    # the live figure follows the case.repeat_changed event, as petitions' /v1/metrics does.
    start = date(2015, 1, 1) + timedelta(days=uuid.uuid4().int % 2500)
    end = start + timedelta(days=30)
    indicator_id = await _live_plan(client, plan_code, start, end)
    feed = Harness(app, settings, f"repeat-{plan_code}").feed
    t0 = datetime(start.year, start.month, start.day, 9, tzinfo=UTC)
    hour = timedelta(hours=1)
    a, b = uuid.uuid4(), uuid.uuid4()
    await feed(
        created(a, t0),
        resolved(a, t0 + hour, on=start),
        closed(a, t0 + 2 * hour, on=start),
        created(b, t0),
        resolved(b, t0 + hour, grassroots=False, on=start),
        closed(b, t0 + 2 * hour, on=start),
    )
    detail = (await client.get(f"/v1/indicators/{indicator_id}")).json()
    assert (detail["live"]["numerator"], detail["live"]["denominator"]) == (1, 2)

    await feed(repeat_changed(b, t0 + 3 * hour, first_time=False, change="linked"))
    detail = (await client.get(f"/v1/indicators/{indicator_id}")).json()
    assert (detail["live"]["numerator"], detail["live"]["denominator"]) == (1, 1)

    await feed(repeat_changed(b, t0 + 4 * hour, first_time=True, change="unlinked"))
    detail = (await client.get(f"/v1/indicators/{indicator_id}")).json()
    assert (detail["live"]["numerator"], detail["live"]["denominator"]) == (1, 2)


async def test_live_indicators_take_no_reports_and_periods_are_checked(
    client: httpx.AsyncClient, plan_code: str, auth: SessionAuth
) -> None:
    indicator_id = await _live_plan(client, plan_code, date(2023, 1, 1), date(2023, 12, 31))
    response = await client.post(
        f"/v1/indicators/{indicator_id}/reports",
        json={"value": 90},
        headers=auth.headers("handler", org_unit="D-XFJ"),
    )
    assert response.status_code == 409 and "live" in response.json()["detail"]
    bad = await client.get(
        "/v1/live/first-time-grassroots-rate", params={"start": "2023-02-01", "end": "2023-01-01"}
    )
    assert bad.status_code == 400 and "end must not be before start" in bad.json()["detail"]


async def _wait_for(
    client: httpx.AsyncClient, indicator_id: str, expected: tuple[int, int]
) -> None:
    async with asyncio.timeout(60):
        while True:
            live = (await client.get(f"/v1/indicators/{indicator_id}")).json()["live"]
            if (live["numerator"], live["denominator"]) == expected:
                return
            await asyncio.sleep(0.2)


async def test_over_kafka_redelivery_and_replay_from_the_start_give_the_same_value(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    plan_code: str,
    infrastructure: Infrastructure,
) -> None:
    start = date(2008, 1, 1) + timedelta(days=uuid.uuid4().int % 2500)
    indicator_id = await _live_plan(client, plan_code, start, start + timedelta(days=60))
    t0 = datetime(start.year, start.month, start.day, 9, tzinfo=UTC)
    cases = [uuid.uuid4() for _ in range(4)]
    events = []
    for i, case in enumerate(cases):
        events += [
            created(case, t0),
            resolved(case, t0 + timedelta(hours=1), on=start, grassroots=i != 3),
            closed(case, t0 + timedelta(hours=2), on=start),
        ]
    topic = settings.topic(PETITIONS_CASE_EVENTS)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    consumer = app.state.consumer
    task = asyncio.create_task(consumer.run())
    try:
        await producer.start()
        for event in events:
            record = to_kafka(event, key=event.subject)
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
        await _wait_for(client, indicator_id, (3, 4))
        # Redelivery: the same events (same ids) again change nothing.
        last: dict[TopicPartition, int] = {}
        for event in events:
            record = to_kafka(event, key=event.subject)
            sent = await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.headers
            )
            last[TopicPartition(sent.topic, sent.partition)] = sent.offset
        await _wait_committed(infrastructure, settings.consumer_group, last)
        live = (await client.get(f"/v1/indicators/{indicator_id}")).json()["live"]
        assert (live["numerator"], live["denominator"]) == (3, 4)
    finally:
        consumer.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()

    # Replay from offset 0 in a new consumer group (a new inbox name: nothing is skipped).
    replay = _case_events_consumer(app, settings, f"replay-{plan_code}")
    task = asyncio.create_task(replay.run())
    try:
        async with asyncio.timeout(60):
            while replay.handled_count < len(events):  # the duplicates are skipped
                await asyncio.sleep(0.2)
    finally:
        replay.stop()
        await asyncio.wait_for(task, 30)
    live = (await client.get(f"/v1/indicators/{indicator_id}")).json()["live"]
    assert (live["numerator"], live["denominator"]) == (3, 4)


def _case_events_consumer(app: FastAPI, settings: Settings, group: str) -> IdempotentConsumer:
    """The service's case-event consumer, as main.py builds it, under consumer group ``group``."""
    return IdempotentConsumer(
        name=group,
        topics=[PETITIONS_CASE_EVENTS],
        handlers=case_event_handlers(settings),
        session_factory=app.state.sessions,
        inbox_model=InboxMessage,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic_prefix=settings.kafka_topic_prefix,
    )


async def _wait_committed(
    infrastructure: Infrastructure, group: str, last: dict[TopicPartition, int]
) -> None:
    """Until ``group`` has committed past each partition's last record: it handled them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await admin.start()
    try:
        async with asyncio.timeout(60):
            while True:
                committed = await admin.list_consumer_group_offsets(group, partitions=list(last))
                if all(
                    (meta := committed.get(tp)) is not None and meta.offset > offset
                    for tp, offset in last.items()
                ):
                    return
                await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def test_rebuild_live_clears_wrong_figures_and_the_replay_restores_them(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    plan_code: str,
    infrastructure: Infrastructure,
) -> None:
    from sqlalchemy import text

    from targets_api.cli import rebuild_live

    settings = settings.model_copy(update={"consumer_group": f"rebuild-{plan_code}"})
    start = date(2008, 1, 1) + timedelta(days=uuid.uuid4().int % 2500)
    indicator_id = await _live_plan(client, plan_code, start, start + timedelta(days=60))
    t0 = datetime(start.year, start.month, start.day, 9, tzinfo=UTC)
    events = []
    cases = [uuid.uuid4() for _ in range(4)]
    for i, case in enumerate(cases):
        events += [
            created(case, t0),
            resolved(case, t0 + timedelta(hours=1), on=start, grassroots=i != 3),
            closed(case, t0 + timedelta(hours=2), on=start),
        ]

    first = _case_events_consumer(app, settings, settings.consumer_group)
    task = asyncio.create_task(first.run())
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            record = to_kafka(event, key=event.subject)
            await producer.send_and_wait(
                settings.topic(PETITIONS_CASE_EVENTS),
                record.value,
                key=record.key,
                headers=record.headers,
            )
        await _wait_for(client, indicator_id, (3, 4))
        # While the consumer runs, the rebuild refuses: it would commit over the rewind.
        assert await rebuild_live(settings, accept_retention_gap=False) == 1
    finally:
        await producer.stop()
        first.stop()
        await asyncio.wait_for(task, 30)

    # The figures go wrong (say, a handler bug that lost the grassroots flag).
    async with app.state.sessions() as session:
        await session.execute(
            text("UPDATE case_facts SET grassroots = false WHERE case_id = ANY(:cases)"),
            {"cases": cases},
        )
        await session.commit()
    live = (await client.get(f"/v1/indicators/{indicator_id}")).json()["live"]
    assert (live["numerator"], live["denominator"]) == (0, 4)

    assert await rebuild_live(settings, accept_retention_gap=False) == 0
    async with app.state.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM case_facts"))).scalar() == 0

    again = _case_events_consumer(app, settings, settings.consumer_group)
    task = asyncio.create_task(again.run())
    try:
        await _wait_for(client, indicator_id, (3, 4))
    finally:
        again.stop()
        await asyncio.wait_for(task, 30)
    assert again.handled_count == len(events)  # every event read again, none skipped
