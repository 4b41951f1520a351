"""The running service against real Kafka: events in, deliveries out, outcomes published; a
receiver that never answers well ends "failed" while the consumer goes on with later events."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI

from gov_common.events import to_kafka
from gov_common.events.contracts import NOTIFIER_DELIVERY_EVENTS, PETITIONS_CASE_EVENTS
from gov_common.messaging.kafka import ensure_topics
from notifier.config import Settings

from .conftest import Receiver, running
from .test_deliveries import overdue_event


async def _wait_final(client: httpx.AsyncClient, event_id: str, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(60):
        while True:
            items = (await client.get("/v1/deliveries", params={"event_id": event_id})).json()[
                "items"
            ]
            if len(items) == count and all(i["status"] != "pending" for i in items):
                return items
            await asyncio.sleep(0.2)


async def test_the_consumer_keeps_going_past_a_receiver_that_always_fails(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    broken = Receiver(fail_first=None, fail_status=500)
    async with running(broken), running(Receiver()) as good:
        for unit, hook in (("610203100", broken.url), ("610203200", good.url)):
            created = await client.post(
                "/v1/recipients",
                json={"kind": "group", "name": unit, "org_unit_id": unit, "webhook_url": hook},
            )
            assert created.status_code == 201
        rule = await client.post(
            "/v1/rules",
            json={
                "name": "overdue-to-unit",
                "event_type": "gov.petitions.case.overdue.v1",
                "recipients": [{"source": "handling_unit"}],
                "channels": ["webhook"],
            },
        )
        assert rule.status_code == 201, rule.text

        first, second = overdue_event("610203100"), overdue_event("610203200")
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [PETITIONS_CASE_EVENTS],
            prefix=settings.kafka_topic_prefix,
        )
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:
            for event in (first, second):
                record = to_kafka(event, key=event.subject)
                await producer.send_and_wait(
                    settings.topic(PETITIONS_CASE_EVENTS),
                    record.value,
                    key=record.key,
                    headers=record.headers,
                )
        finally:
            await producer.stop()

        async with app.router.lifespan_context(app):
            [failed] = await _wait_final(client, first.id, 1)
            [delivered] = await _wait_final(client, second.id, 1)
            published = await _read_outcomes(settings, 2)

    assert failed["status"] == "failed" and failed["attempts"] == settings.max_attempts
    assert failed["last_error"] == (
        "gave up after 3 attempts; last error: receiver answered HTTP 500"
    )
    assert delivered["status"] == "succeeded" and len(good.accepted()) == 1
    assert {(p["delivery_id"], t) for t, p in published} == {
        (failed["id"], "gov.notifier.delivery.failed.v1"),
        (delivered["id"], "gov.notifier.delivery.succeeded.v1"),
    }


async def _read_outcomes(settings: Settings, count: int) -> list[tuple[str, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(
        settings.topic(NOTIFIER_DELIVERY_EVENTS),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        async with asyncio.timeout(60):
            while len(found) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for record in batch:
                        headers = {k: v.decode() for k, v in record.headers}
                        found.append((headers["ce_type"], orjson.loads(record.value)))
    finally:
        await consumer.stop()
    return found
