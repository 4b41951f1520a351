"""Issue #4 end to end: a first-time 信访 case resolved at a town and closed in petitions-api
moves targets-api's live grassroots indicator; redelivered events count nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from gov_common.clock import today_in_china

from .conftest import Suite
from .test_first_slice import _wait_consumed

pytestmark = pytest.mark.e2e

CHENLU, CHENLU_VILLAGE = "610203100", "610203100001"


async def _live(http: httpx.AsyncClient, suite: Suite, indicator_id: str) -> tuple[int, int]:
    response = await http.get(
        f"{suite.targets.url}/v1/indicators/{indicator_id}", headers=suite.auth.headers("planner")
    )
    assert response.status_code == 200, response.text
    live = response.json()["live"]
    return live["numerator"], live["denominator"]


async def _act(
    http: httpx.AsyncClient, suite: Suite, case_id: str, action: str, who: dict[str, str],
    body: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    response = await http.post(
        f"{suite.petitions.url}/v1/cases/{case_id}/actions/{action}", json=body or {}, headers=who
    )
    assert response.status_code == 200, f"{action}: {response.text}"


async def _records_of(suite: Suite, case_id: str) -> list[Any]:
    """Every record of the case now on the topic (read up to the current end offsets)."""
    topic = suite.topic_prefix + "petitions.case-events"
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=suite.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[Any] = []
    try:
        async with asyncio.timeout(60):
            while not consumer.assignment():
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    found += [r for r in batch if r.key == case_id.encode()]
            partitions = list(consumer.assignment())
            ends = await consumer.end_offsets(partitions)
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    found += [r for r in batch if r.key == case_id.encode()]
    finally:
        await consumer.stop()
    return found


async def test_a_case_closed_in_petitions_moves_the_live_indicator_once(suite: Suite) -> None:
    operator = suite.auth.headers("operator")
    handler = suite.auth.headers("handler", org_unit=CHENLU)
    planner = suite.auth.headers("planner")
    year = today_in_china().year
    plan_code = f"live-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=15) as http:
        plan = await http.post(
            f"{suite.targets.url}/v1/plans",
            json={"code": plan_code, "name_zh": f"{year}年计划", "year": year},
            headers=planner,
        )
        assert plan.status_code == 201, plan.text
        indicator = await http.post(
            f"{suite.targets.url}/v1/plans/{plan_code}/indicators",
            json={
                "code": "GOV-03",
                "name_zh": "初信初访事项80%以上在基层得到有效化解",
                "kind": "percentage",
                "unit": "percent",
                "target": 80,
                "live_source": "petitions.first_time_grassroots_rate",
            },
            headers=planner,
        )
        assert indicator.status_code == 201, indicator.text
        indicator_id = indicator.json()["id"]
        before = await _live(http, suite, indicator_id)

        created = await http.post(
            f"{suite.petitions.url}/v1/cases",
            json={
                "kind": "petition_case",
                "channel": "visit",
                "subject": "村内自来水管道破裂",
                "description": f"陈炉镇某村自来水主管道破裂，全村停水。({uuid.uuid4().hex[:6]})",
                "category_code": "VILLAGE-AFFAIRS",
                "place": {"unit_id": CHENLU_VILLAGE, "address": "村委会东侧"},
                "petitioner": {"name": "李四", "phone": f"139{uuid.uuid4().int % 10**8:08d}"},
            },
            headers=operator,
        )
        assert created.status_code == 201, created.text
        case = created.json()
        assert case["first_time"] is True
        case_id = case["id"]
        # 第二十二条: forwarded by the 信访部门, accepted by the town with the written notice.
        await _act(http, suite, case_id, "dispatch", operator, {"to_unit_id": CHENLU})
        await _act(http, suite, case_id, "accept", handler, {"notice": {"means": "post"}})
        await _act(
            http, suite, case_id, "reply", handler, {"outcome": "supported", "reply": "已修复"}
        )
        await _act(http, suite, case_id, "rate", operator, {"rating": "satisfied"})
        await _act(http, suite, case_id, "close", operator)

        expected = (before[0] + 1, before[1] + 1)
        async with asyncio.timeout(60):
            while await _live(http, suite, indicator_id) != expected:
                await asyncio.sleep(0.3)

        # Redeliver every event of the case (same ce_id): the figure stays where it is.
        records = await _records_of(suite, case_id)
        assert len(records) >= 6  # created, accepted, dispatched, replied, resolved, closed
        producer = AIOKafkaProducer(bootstrap_servers=suite.kafka_bootstrap_servers)
        await producer.start()
        last: dict[TopicPartition, int] = {}
        try:
            for record in records:
                sent = await producer.send_and_wait(
                    record.topic, record.value, key=record.key, headers=list(record.headers)
                )
                last[TopicPartition(sent.topic, sent.partition)] = sent.offset
        finally:
            await producer.stop()
        for tp, offset in last.items():
            await _wait_consumed(suite, suite.group("targets-api"), tp, offset)
        assert await _live(http, suite, indicator_id) == expected
