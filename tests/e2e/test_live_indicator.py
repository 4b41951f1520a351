"""The live grassroots-rate indicator end to end: case events on Kafka → targets-api → HTTP.

The petitions service has no lifecycle routes (accept/resolve) yet, so this test publishes real
``case.created`` / ``case.resolved`` CloudEvents (binary mode, gov_common.events.to_kafka) to
the case-events topic, as the petitions relay would, and republishes some to prove that a
redelivery counts nothing twice.

It runs its own targets-api process, with its own database and topic prefix, so the case
events it publishes do not change what the suite's other tests see (e.g. the case-event
tally that test_first_slice checks).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from gov_common.clock import today_in_china
from gov_common.events import CloudEvent, new_event, to_kafka
from gov_common.testing import (
    Infrastructure,
    create_database,
    drop_database,
    migrate,
    run_coroutine,
)
from gov_common.testing import TestAuth as SessionAuth

from .conftest import ServiceProcess

pytestmark = pytest.mark.e2e

LIVE_SOURCE = "petitions.first_time_grassroots_rate"


class LiveTargets:
    def __init__(
        self, process: ServiceProcess, prefix: str, bootstrap: str, auth: SessionAuth
    ) -> None:
        self.process = process
        self.prefix = prefix
        self.bootstrap = bootstrap
        self.group = prefix + "targets-api"
        self.topic = prefix + "petitions.case-events"
        # The planning office sets the plan up; everyone else only reads it.
        self.planner = auth.headers("planner", subject="e2e-planner")
        self.reader = auth.headers("read_only", subject="e2e-reader")


@pytest.fixture(scope="module")
def live_targets(infrastructure: Infrastructure, auth: SessionAuth) -> Iterator[LiveTargets]:
    """A targets-api process of this module's own: fresh database, own topics and group."""
    name = f"targets_live{uuid.uuid4().hex[:8]}"
    admin_url = infrastructure.admin_url("targets")
    run_coroutine(create_database(admin_url, name))
    url = str(make_url(infrastructure.database_urls["targets"]).set(database=name))
    prefix = f"e2elive{uuid.uuid4().hex[:8]}."
    process = ServiceProcess(
        "targets-api-live",
        ["--factory", "targets_api.main:create_app"],
        {
            "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
            "GOV_KAFKA_TOPIC_PREFIX": prefix,
            "GOV_ENVIRONMENT": "test",
            "TARGETS_DATABASE_URL": url,
            "TARGETS_CONSUMER_GROUP": prefix + "targets-api",
            "TARGETS_PETITIONS_BASE_URL": "http://petitions.e2e",
            **auth.settings_env,  # trust the session's token issuer
        },
    )
    try:
        migrate("targets", url)
        process.start()
        process.wait_ready()
        yield LiveTargets(process, prefix, infrastructure.kafka_bootstrap_servers, auth)
    finally:
        process.stop()
        run_coroutine(drop_database(admin_url, name))


def _case_event(kind: str, case_id: uuid.UUID, **data: Any) -> CloudEvent:
    now = datetime.now(UTC)
    base = {
        "case_id": str(case_id),
        "case_number": f"XF{now.year}-{case_id.int % 10**8:08d}",
        "kind": "petition_case",
        "first_time": True,
        "handling_unit_id": "town-chenlu",
    }
    if kind == "created":
        base |= {
            "channel": "visit",
            "subject": "供暖温度不达标",
            "received_on": today_in_china().isoformat(),
            "created_at": now.isoformat(),
        }
    else:
        base["occurred_at"] = (now + timedelta(seconds=1)).isoformat()
    return new_event(
        source="/gov/petitions-api",
        type=f"gov.petitions.case.{kind}.v1",
        subject=str(case_id),
        data=base | data,
    )


def _resolved(case_id: uuid.UUID, *, grassroots: bool) -> CloudEvent:
    return _case_event(
        "resolved",
        case_id,
        resolved_on=today_in_china().isoformat(),
        resolution_unit_id="town-chenlu" if grassroots else "district-petitions",
        resolution_level="town" if grassroots else "district",
        grassroots=grassroots,
        effective=True,
        town_unit_id="town-chenlu",
        definition_version="1",
    )


def _closed(case_id: uuid.UUID, rating: str = "satisfied") -> CloudEvent:
    return _case_event("closed", case_id, closed_on=today_in_china().isoformat(), rating=rating)


async def _publish(live: LiveTargets, events: list[CloudEvent]) -> dict[TopicPartition, int]:
    """Send the events; the last offset written to each partition."""
    producer = AIOKafkaProducer(
        bootstrap_servers=live.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    last: dict[TopicPartition, int] = {}
    try:
        for event in events:
            record = to_kafka(event, key=event.subject)
            sent = await producer.send_and_wait(
                live.topic, record.value, key=record.key, headers=record.headers
            )
            last[TopicPartition(sent.topic, sent.partition)] = sent.offset
    finally:
        await producer.stop()
    return last


async def _wait_consumed(live: LiveTargets, last: dict[TopicPartition, int]) -> None:
    """Until targets-api has committed past every record sent: it has handled all of them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=live.bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(60):
            while True:
                committed = await admin.list_consumer_group_offsets(
                    live.group, partitions=list(last)
                )
                if all(
                    (meta := committed.get(tp)) is not None and meta.offset > offset
                    for tp, offset in last.items()
                ):
                    return
                await asyncio.sleep(0.3)
    finally:
        await admin.close()


async def _live(http: httpx.AsyncClient, live: LiveTargets, indicator_id: str) -> dict[str, Any]:
    url = f"{live.process.url}/v1/indicators/{indicator_id}"
    response = await http.get(url, headers=live.reader)
    assert response.status_code == 200, response.text
    detail = response.json()
    return {**detail["live"], "value": detail["progress"]["value"], "status": detail["status"]}


async def test_resolving_first_time_petitions_moves_the_live_indicator_once(
    live_targets: LiveTargets,
) -> None:
    live = live_targets
    year = today_in_china().year
    async with httpx.AsyncClient(base_url=live.process.url, timeout=10) as http:
        anonymous = await http.get("/v1/plans")
        assert anonymous.status_code == 401  # the process enforces its access policy
        plan = await http.post(
            "/v1/plans",
            json={"code": f"e2e-{year}", "name_zh": f"{year}年计划", "year": year},
            headers=live.planner,
        )
        assert plan.status_code == 201, plan.text
        created = await http.post(
            f"/v1/plans/e2e-{year}/indicators",
            json={
                "code": "GOV-03",
                "name_zh": "初信初访事项80%以上在基层得到有效化解",
                "kind": "percentage",
                "unit": "percent",
                "target": 80,
                "live_source": LIVE_SOURCE,
            },
            headers=live.planner,
        )
        assert created.status_code == 201, created.text
        indicator_id = created.json()["id"]
        before = await _live(http, live, indicator_id)
        assert (before["numerator"], before["denominator"], before["value"]) == (0, 0, None)

        # Three first-time cases registered and resolved: two at the town, one at the district.
        cases = [uuid.uuid4() for _ in range(3)]
        first = [_case_event("created", c) for c in cases]
        resolutions = [_resolved(c, grassroots=i < 2) for i, c in enumerate(cases)]
        closings = [_closed(c) for c in cases]
        await _wait_consumed(live, await _publish(live, first + resolutions + closings))
        after = await _live(http, live, indicator_id)
        assert (after["numerator"], after["denominator"]) == (2, 3)
        assert after["value"] == "66.67"
        assert after["status"] == "off_track"  # 66.67% is below 80% less the 10% tolerance
        assert after["cases_url"].startswith(
            "http://petitions.e2e/v1/metrics/first-time-grassroots-resolution/cases?"
        )
        assert after["period_start"] == f"{year}-01-01"

        # Redelivery: the very same events (same ce_id) again. Nothing is counted twice.
        await _wait_consumed(
            live, await _publish(live, [first[0], resolutions[0], resolutions[2], closings[1]])
        )
        again = await _live(http, live, indicator_id)
        assert (again["numerator"], again["denominator"], again["value"]) == (2, 3, "66.67")
        tally = (await http.get("/v1/live/case-events", headers=live.reader)).json()["counts"]
        assert tally == {
            "gov.petitions.case.created.v1": 3,
            "gov.petitions.case.resolved.v1": 3,
            "gov.petitions.case.closed.v1": 3,
        }

        # A fourth first-time case resolved at the grassroots moves the figure again.
        fourth = uuid.uuid4()
        await _wait_consumed(
            live,
            await _publish(
                live,
                [
                    _case_event("created", fourth),
                    _resolved(fourth, grassroots=True),
                    _closed(fourth),
                ],
            ),
        )
        moved = await _live(http, live, indicator_id)
        assert (moved["numerator"], moved["denominator"], moved["value"]) == (3, 4, "75.00")
        assert moved["status"] == "at_risk"  # within 10% below 80%
