"""One event end to end: HTTP → database + outbox → Kafka → consumers → signed webhook."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .conftest import Suite

pytestmark = pytest.mark.e2e
CREATED = "gov.petitions.case.created.v1"

CASE = {
    "kind": "hotline_ticket",
    "channel": "hotline_call",
    "subject": "陈炉镇路灯不亮",
    "description": "陈炉镇某村主干道路灯三晚未亮。",
}


async def _received_for(
    http: httpx.AsyncClient, suite: Suite, case_id: str
) -> list[dict[str, Any]]:
    received = (await http.get(suite.sink.url + "/received")).json()  # the sink is open
    return [r for r in received if (r["body"] or {}).get("subject") == case_id]


async def _find_record(suite: Suite, case_id: str) -> Any:
    consumer = AIOKafkaConsumer(
        suite.topic_prefix + "petitions.case-events",
        bootstrap_servers=suite.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while True:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for record in batch:
                        if record.key == case_id.encode():
                            return record
    finally:
        await consumer.stop()


async def _wait_consumed(suite: Suite, group: str, tp: TopicPartition, offset: int) -> None:
    """Until ``group`` has committed past ``offset``: it has handled that record."""
    admin = AIOKafkaAdminClient(bootstrap_servers=suite.kafka_bootstrap_servers)
    await admin.start()
    try:
        async with asyncio.timeout(60):
            while True:
                committed = await admin.list_consumer_group_offsets(group, partitions=[tp])
                meta = committed.get(tp)
                if meta is not None and meta.offset > offset:
                    return
                await asyncio.sleep(0.3)
    finally:
        await admin.close()


async def test_a_case_reaches_the_webhook_once_signed_and_a_replayed_event_changes_nothing(
    suite: Suite,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        tally = (
            await http.get(
                suite.targets.url + "/v1/live/case-events", headers=suite.auth.headers("planner")
            )
        ).json()["counts"]
        tally_before = tally.get(CREATED, 0)
        created = await http.post(
            suite.petitions.url + "/v1/cases", json=CASE, headers=suite.auth.headers("operator")
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]

        async with asyncio.timeout(60):
            while not (received := await _received_for(http, suite, case_id)):
                await asyncio.sleep(0.2)

        record = await _find_record(suite, case_id)
        headers = {k: v.decode() for k, v in record.headers}
        assert record.key == case_id.encode()
        assert headers["ce_type"] == "gov.petitions.case.created.v1"
        assert headers["ce_source"] == "/gov/petitions-api"
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_subject"] == case_id
        assert headers["content-type"] == "application/json"
        assert headers["ce_id"] and headers["ce_time"]

        # Publish the very same event again (same ce_id): a redelivery as Kafka may make one.
        producer = AIOKafkaProducer(bootstrap_servers=suite.kafka_bootstrap_servers)
        await producer.start()
        try:
            again = await producer.send_and_wait(
                record.topic,
                record.value,
                key=record.key,
                headers=list(record.headers),
                partition=record.partition,
            )
        finally:
            await producer.stop()
        tp = TopicPartition(record.topic, record.partition)
        await _wait_consumed(suite, suite.group("notifier"), tp, again.offset)
        await _wait_consumed(suite, suite.group("targets-api"), tp, again.offset)

        received = await _received_for(http, suite, case_id)
        assert len(received) == 1, received
        [hook] = received
        assert hook["signature_valid"] is True
        assert hook["event_id"] == headers["ce_id"]
        assert hook["body"]["type"] == "gov.petitions.case.created.v1"
        assert hook["body"]["data"]["case_id"] == case_id

        deliveries = (
            await http.get(
                suite.notifier.url + "/v1/deliveries",
                params={"event_id": headers["ce_id"]},
                headers=suite.auth.headers("admin"),
            )
        ).json()["items"]
        assert [(d["status"], d["attempts"]) for d in deliveries] == [("succeeded", 1)]
        assert deliveries[0]["id"] == hook["delivery_id"]

        counts = (
            await http.get(
                suite.targets.url + "/v1/live/case-events", headers=suite.auth.headers("planner")
            )
        ).json()["counts"]
        assert counts.get(CREATED, 0) == tally_before + 1  # the replayed event counted once


async def test_every_service_serves_its_docs_and_health(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for service in (suite.petitions, suite.targets, suite.notifier):
            assert (await http.get(service.url + "/docs")).status_code == 200
            assert (
                (await http.get(service.url + "/openapi.json")).json()["openapi"].startswith("3.")
            )
            assert (await http.get(service.url + "/healthz")).json() == {"status": "ok"}
            ready = (await http.get(service.url + "/readyz")).json()
            assert ready["status"] == "ready" and ready["checks"]["database"] == "ok"
        indicators = await http.get(
            suite.targets.url + "/v1/indicators", headers=suite.auth.headers("read_only")
        )
        assert indicators.status_code == 200 and "items" in indicators.json()


async def test_bad_input_is_refused_over_http(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            suite.petitions.url + "/v1/cases",
            json={**CASE, "kind": "rumour"},
            headers=suite.auth.headers("operator"),
        )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_params"][0]["name"] == "kind"


async def test_a_malformed_record_is_dead_lettered_and_the_notifier_keeps_consuming(
    suite: Suite,
) -> None:
    topic = suite.topic_prefix + "petitions.case-events"
    producer = AIOKafkaProducer(bootstrap_servers=suite.kafka_bootstrap_servers)
    await producer.start()
    try:
        poison = await producer.send_and_wait(
            topic, b"{not json", key=b"poison", headers=[("ce_id", b"poison-1")]
        )
    finally:
        await producer.stop()

    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            suite.petitions.url + "/v1/cases", json=CASE, headers=suite.auth.headers("operator")
        )
        case_id = created.json()["id"]
        async with asyncio.timeout(60):
            while not await _received_for(http, suite, case_id):
                await asyncio.sleep(0.2)

    dead_letters = AIOKafkaConsumer(
        topic + ".dlq",
        bootstrap_servers=suite.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await dead_letters.start()
    found: dict[str, bytes] = {}
    try:
        async with asyncio.timeout(60):
            while not found:
                for batch in (await dead_letters.getmany(timeout_ms=500)).values():
                    for record in batch:
                        headers = dict(record.headers)
                        if (
                            headers.get("dlq_consumer") == suite.group("notifier").encode()
                            and headers.get("dlq_original_offset") == str(poison.offset).encode()
                            and headers.get("dlq_original_partition")
                            == str(poison.partition).encode()
                        ):
                            found = headers
    finally:
        await dead_letters.stop()
    assert b"missing header(s)" in found["dlq_reason"]
    assert found["dlq_original_topic"] == topic.encode()
