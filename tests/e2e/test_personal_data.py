"""A petitioner's personal data never leaves the petitions database in the clear: not in any
service's log of the run, not in any Kafka record (headers or value) on the suite's topics,
and not as plaintext in the database itself."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .conftest import LOG_DIR, Suite

pytestmark = pytest.mark.e2e
CLOSED = b"gov.petitions.case.closed.v1"
CHENGGUAN, CHENGGUAN_COMMUNITY = "610203001", "610203001001"


def _person() -> dict[str, str]:
    """Values of this run's own: finding one anywhere means this run put it there."""
    n = uuid.uuid4().int
    body = f"610203{1950 + n % 50}{1 + n % 12:02d}{1 + n % 28:02d}{n % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return {
        "name": "司马" + "婉清雅"[n % 3] + "宁",
        "phone": f"137{n % 10**8:08d}",
        "id_number": body + check,
        "address": f"城关街道和平里{n % 100}号楼{n % 7}单元",
    }


async def _walk(suite: Suite, person: dict[str, str]) -> str:
    operator = suite.auth.headers("operator", subject="xfj-registrar")
    handler = suite.auth.headers("handler", org_unit=CHENGGUAN, subject="chengguan-handler")
    async with httpx.AsyncClient(base_url=suite.petitions.url, timeout=30) as http:
        created = await http.post(
            "/v1/cases",
            headers=operator,
            json={
                "kind": "petition_case",
                "channel": "visit",
                "subject": "小区供暖温度不达标",
                "description": "连续一周室温低于18度。",
                "category_code": "HEATING",
                "place": {"unit_id": CHENGGUAN_COMMUNITY},
                "petitioner": person,
            },
        )
        assert created.status_code == 201, created.text
        case_id = str(created.json()["id"])
        steps: list[tuple[str, dict[str, str], dict[str, Any]]] = [
            ("dispatch", operator, {"to_unit_id": CHENGGUAN}),
            ("accept", handler, {"notice": {"means": "post"}}),
            ("reply", handler, {"outcome": "supported", "reply": "供热公司已整改，室温达标"}),
            ("rate", operator, {"rating": "satisfied"}),
            ("close", operator, {}),
        ]
        for action, headers, body in steps:
            done = await http.post(
                f"/v1/cases/{case_id}/actions/{action}", json=body, headers=headers
            )
            assert done.status_code == 200, (action, done.text)
        # Reads of the personal data itself: in full for the handler, and audited.
        read = await http.get(f"/v1/cases/{case_id}/petitioner", headers=handler)
        assert read.json() == {**person, "masked": False}
        # A request that fails validation must not echo it into a log either.
        bad = await http.post(
            "/v1/cases",
            headers=operator,
            json={
                "kind": "petition_case",
                "channel": "visit",
                "subject": "x",
                "description": "x",
                "petitioner": {**person, "phone": "call " + person["phone"]},
            },
        )
        assert bad.status_code == 422
    return case_id


async def _wait_for_closed_event(suite: Suite, case_id: str) -> None:
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
                        if record.key == case_id.encode() and (
                            ("ce_type", CLOSED) in list(record.headers)
                        ):
                            return
    finally:
        await consumer.stop()


async def _every_record_of_the_run(suite: Suite) -> list[bytes]:
    """Key, headers and value of every record now on the suite's topics (DLQs included)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=suite.kafka_bootstrap_servers)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(suite.topic_prefix)]
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    assert suite.topic_prefix + "petitions.case-events" in topics
    partitions = [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        for p in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=suite.kafka_bootstrap_servers, group_id=None)
    await consumer.start()
    seen: list[bytes] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        async with asyncio.timeout(60):
            while remaining:
                for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                    for record in batch:
                        seen.append(record.key or b"")
                        seen.append(record.value or b"")
                        seen.extend(name.encode() + b"=" + value for name, value in record.headers)
                        if record.offset + 1 >= ends[tp]:
                            remaining.discard(tp)
    finally:
        await consumer.stop()
    return seen


def _forms(person: dict[str, str]) -> dict[str, list[bytes]]:
    """Each value as it could appear: UTF-8, and JSON's ASCII escapes for Chinese text."""
    return {
        field: [value.encode(), json.dumps(value)[1:-1].encode()] for field, value in person.items()
    }


async def test_personal_data_is_in_no_log_no_kafka_record_and_no_plaintext_column(
    suite: Suite, test_databases: dict[str, str]
) -> None:
    person = _person()
    case_id = await _walk(suite, person)
    await _wait_for_closed_event(suite, case_id)
    forms = _forms(person)

    records = await _every_record_of_the_run(suite)
    assert any(case_id.encode() in r for r in records)  # the run's events were read
    for field, variants in forms.items():
        for variant in variants:
            assert not any(variant in record for record in records), f"{field} in Kafka"

    logs = sorted(LOG_DIR.glob("*.log"))
    assert suite.petitions.log_path in logs
    text = b"".join(path.read_bytes() for path in logs)
    assert b"http.request" in text  # the services did log this run
    for field, variants in forms.items():
        for variant in variants:
            assert variant not in text, f"{field} in a service log"

    connection = await asyncpg.connect(test_databases["petitions"].replace("+asyncpg", ""))
    try:
        row = await connection.fetchrow(
            "SELECT * FROM petitioners WHERE case_id = $1", uuid.UUID(case_id)
        )
        assert row is not None
        assert "phone" not in row and "name" not in row  # no plaintext columns at all
        stored = " ".join(str(v) for v in row.values())
        # Nor anywhere else in the database's rows that mention the case.
        for table in ("cases", "case_timeline", "outbox", "idempotency_keys"):
            column = "id" if table == "cases" else "case_id"
            if table == "outbox":
                column = "message_key"
            rows = await connection.fetch(
                f"SELECT * FROM {table} WHERE {column}::text = $1",
                case_id,
            )
            stored += " ".join(str(v) for r in rows for v in r.values())
    finally:
        await connection.close()
    for field, value in person.items():
        assert value not in stored, f"{field} stored in plaintext"
