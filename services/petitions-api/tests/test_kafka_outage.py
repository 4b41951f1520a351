"""Kafka stopped while cases are registered: the calls succeed, the events follow later."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from sqlalchemy import select

from gov_common.testing import Infrastructure, TestAuth
from petitions_api.db import OutboxMessage

from .test_cases import VALID

pytestmark = [pytest.mark.integration, pytest.mark.kafka_outage]


async def test_cases_are_taken_while_kafka_is_down_and_their_events_delivered_after(
    app: FastAPI, infrastructure: Infrastructure, topic_prefix: str, auth: TestAuth
) -> None:
    async with app.router.lifespan_context(app):  # the outbox relay runs
        transport = httpx.ASGITransport(app)
        operator = auth.headers("operator")
        async with httpx.AsyncClient(
            transport=transport, base_url="http://p", headers=operator
        ) as client:
            warm = await client.post("/v1/cases", json=VALID)
            assert warm.status_code == 201
            await _wait_until_published(app, warm.json()["id"])
            infrastructure.stop_kafka()
            try:
                responses = [await client.post("/v1/cases", json=VALID) for _ in range(3)]
                assert [r.status_code for r in responses] == [201, 201, 201]
                ready = await client.get("/readyz")
                assert ready.status_code == 200  # the API stays ready: events wait in the outbox
            finally:
                infrastructure.start_kafka()
        wanted = {r.json()["id"] for r in responses} | {warm.json()["id"]}

        consumer = AIOKafkaConsumer(
            topic_prefix + "petitions.case-events",
            bootstrap_servers=infrastructure.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        seen: list[str] = []
        try:
            async with asyncio.timeout(120):
                while not wanted <= set(seen):
                    for batch in (await consumer.getmany(timeout_ms=500)).values():
                        seen.extend(r.key.decode() for r in batch)
        finally:
            await consumer.stop()
    # At least once on the topic: a send that timed out while the broker came back may be
    # repeated, which the consumers' inboxes absorb.
    assert wanted <= set(seen)


async def _wait_until_published(app: FastAPI, case_id: str) -> None:
    async with asyncio.timeout(60):
        while True:
            async with app.state.sessions() as session:
                sent_at = await session.scalar(
                    select(OutboxMessage.sent_at).where(OutboxMessage.message_key == case_id)
                )
            if sent_at is not None:
                return
            await asyncio.sleep(0.2)
