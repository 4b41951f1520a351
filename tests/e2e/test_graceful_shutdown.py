"""SIGTERM: in-flight requests are answered, the relay finishes its batch and records what it
published, and consumers commit the offsets of what they handled before they exit."""

from __future__ import annotations

import asyncio
import signal
import uuid
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gov_common.events import new_event, to_kafka
from gov_common.events.petitions import CaseCreatedV1
from gov_common.testing import Infrastructure, TestAuth

from .conftest import ServiceProcess
from .test_first_slice import CASE

pytestmark = pytest.mark.e2e
# uvicorn shuts down gracefully, then re-raises the signal, as a well-behaved process should.
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


def case_created_payload() -> CaseCreatedV1:
    return CaseCreatedV1(
        case_id=uuid.uuid4(),
        case_number="RX2026-00000001",
        kind="hotline_ticket",
        channel="hotline_call",
        subject="噪音扰民",
        received_on=date(2026, 11, 27),
        created_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
    )


def _env(infra: Infrastructure, prefix: str, auth: TestAuth) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "GOV_KAFKA_TOPIC_PREFIX": prefix,
        "GOV_ENVIRONMENT": "test",
        **auth.settings_env,
    }


async def test_a_consumer_commits_what_it_handled_when_terminated(
    infrastructure: Infrastructure, test_databases: dict[str, str], auth: TestAuth
) -> None:
    prefix = f"gs{uuid.uuid4().hex[:8]}."
    group = prefix + "targets-api"
    topic = prefix + "petitions.case-events"
    targets = ServiceProcess(
        "targets-api-shutdown",
        ["--factory", "targets_api.main:create_app"],
        {
            **_env(infrastructure, prefix, auth),
            "TARGETS_DATABASE_URL": test_databases["targets"],
            "TARGETS_CONSUMER_GROUP": group,
        },
    )
    targets.start()
    try:
        targets.wait_ready()
        producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
        await producer.start()
        try:
            for i in range(30):
                event = new_event(
                    source="/test",
                    type="gov.petitions.case.created.v1",
                    subject=str(i),
                    data=case_created_payload(),
                )
                record = to_kafka(event, key=str(uuid.uuid4()))
                await producer.send_and_wait(
                    topic, record.value, key=record.key, headers=record.headers
                )
        finally:
            await producer.stop()
        # Wait until it handled them all, then terminate it at once.
        async with httpx.AsyncClient(timeout=5) as http:
            async with asyncio.timeout(60):
                while True:
                    counts = (
                        await http.get(
                            targets.url + "/v1/live/case-events", headers=auth.headers("planner")
                        )
                    ).json()
                    if sum(counts["counts"].values()) >= 30:
                        break
                    await asyncio.sleep(0.2)
        targets.stop(signal.SIGTERM)
        assert targets.process is not None
        assert targets.process.returncode in STOPPED_BY_SIGTERM
    finally:
        targets.stop(signal.SIGKILL)

    consumer = AIOKafkaConsumer(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await consumer.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await consumer.stop()
        await admin.close()
    for tp in partitions:
        handled_to = committed[tp].offset if tp in committed else 0
        assert max(handled_to, 0) == ends[tp], f"{tp}: committed {handled_to}, end {ends[tp]}"


async def test_terminating_petitions_answers_requests_and_marks_what_it_published(
    infrastructure: Infrastructure, test_databases: dict[str, str], auth: TestAuth
) -> None:
    prefix = f"gs{uuid.uuid4().hex[:8]}."
    petitions = ServiceProcess(
        "petitions-api-shutdown",
        ["--factory", "petitions_api.main:create_app"],
        {
            **_env(infrastructure, prefix, auth),
            "PETITIONS_DATABASE_URL": test_databases["petitions"],
        },
    )
    petitions.start()
    try:
        petitions.wait_ready()
        async with httpx.AsyncClient(timeout=30) as http:
            requests = [
                asyncio.create_task(
                    http.post(
                        petitions.url + "/v1/cases", json=CASE, headers=auth.headers("operator")
                    )
                )
                for _ in range(40)
            ]
            await asyncio.sleep(0.3)
            assert petitions.process is not None
            petitions.process.send_signal(signal.SIGTERM)
            results = await asyncio.gather(*requests, return_exceptions=True)
        await asyncio.to_thread(petitions.process.wait, 30)
        assert petitions.process.returncode in STOPPED_BY_SIGTERM
    finally:
        petitions.stop(signal.SIGKILL)

    answered = [r for r in results if isinstance(r, httpx.Response)]
    refused = [r for r in results if not isinstance(r, httpx.Response)]
    # A request is either answered in full or never got in; none is cut off or fails inside.
    # One that never got in shows as a refused connection, or as a reset one when it sat in the
    # kernel's accept queue as the listener closed (ReadError / RemoteProtocolError): the client
    # cannot tell those apart, so the outbox check below proves that none of them was handled.
    assert all(r.status_code == 201 for r in answered), [r.status_code for r in answered]
    never_got_in = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)
    assert all(isinstance(e, never_got_in) for e in refused), refused
    created = {r.json()["id"] for r in answered}

    db = await asyncpg.connect(test_databases["petitions"].replace("+asyncpg", ""))
    try:
        rows = await db.fetch(
            "SELECT message_key, sent_at IS NOT NULL AS sent FROM outbox WHERE topic = $1",
            prefix + "petitions.case-events",
        )
    finally:
        await db.close()
    # Every answered case has its event, and no case exists whose request went unanswered.
    assert {r["message_key"] for r in rows} == created
    assert len(rows) == len(created)
    marked_sent = {r["message_key"] for r in rows if r["sent"]}

    consumer = AIOKafkaConsumer(
        prefix + "petitions.case-events",
        bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    published: list[str] = []
    try:
        while batch := await consumer.getmany(timeout_ms=2000):
            published += [r.key.decode() for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    # What reached Kafka is recorded as sent, so a restart publishes nothing twice.
    assert set(published) == marked_sent
    assert len(published) == len(set(published))
