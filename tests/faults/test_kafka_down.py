"""Scenario 2: Kafka stops for 30 seconds while cases are registered at a steady rate.

Every POST succeeds (the event waits in the outbox); after Kafka returns every event reaches
the topic and both consumers, and neither counts one twice: targets-api's tally of
``case.created`` equals the number of cases, and the notifier's webhook receiver sees one
delivery id per case. A record the relay sent twice (a send that timed out while the broker
went away) may be on the topic twice; that is at-least-once, and the consumers' inboxes make
it harmless — the raw repeats are counted and reported.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.events.petitions import CASE_CREATED_V1

from .conftest import Stack
from .harness import Result, read_topic, sink_summary, wait_caught_up
from .intake import ReadinessWatch, SteadyIntake, wait_for

pytestmark = pytest.mark.faults

RATE = 8  # cases a second
OUTAGE_S = 30


async def test_cases_taken_while_kafka_is_down_reach_every_consumer_once(stack: Stack) -> None:
    infrastructure = stack.infrastructure
    if not infrastructure.kafka_controllable:
        pytest.skip(f"Kafka from {infrastructure.origin} cannot be stopped by the tests")
    result = Result(
        2,
        "Kafka stopped during steady intake",
        load=f"POST /v1/cases at {RATE}/s for the whole run (~{OUTAGE_S + 25} s)",
        fault=f"Kafka broker stopped, down {OUTAGE_S} s, started again",
        sent=0,
        received=0,
        lost=0,
        duplicated=0,
    )
    sink = await stack.sink().launch()
    petitions = await (await stack.service("petitions")).launch()
    targets = await (await stack.service("targets")).launch()
    notifier = await (
        await stack.service("notifier", NOTIFIER_WEBHOOK_URL=f"{sink.url}/hooks/case-events")
    ).launch()
    topic = stack.topic(PETITIONS_CASE_EVENTS)
    admin = stack.auth.headers("admin")

    async with httpx.AsyncClient(timeout=30) as http:
        intake = SteadyIntake(http, petitions, stack.auth.headers("operator"), RATE)
        watch = ReadinessWatch(
            http, {"petitions": petitions, "targets": targets, "notifier": notifier}
        )
        intake.start()
        watch.start()
        stopped = False
        try:
            await asyncio.sleep(5)
            await asyncio.to_thread(infrastructure.stop_kafka)
            stopped = True
            await asyncio.sleep(OUTAGE_S)
            during = {
                name: (await http.get(s.url + "/readyz")).status_code
                for name, s in (("petitions", petitions), ("notifier", notifier))
            }
        finally:
            if stopped:
                await asyncio.to_thread(infrastructure.start_kafka)
        await asyncio.sleep(5)
        await intake.stop()
        acknowledged = set(intake.acknowledged)

        async def tally() -> int:
            counts = (await http.get(targets.url + "/v1/live/case-events", headers=admin)).json()
            return int(counts["counts"].get(CASE_CREATED_V1, 0))

        async def everything_arrived() -> bool:
            notified = (await sink_summary(http, sink))["distinct_event_ids"]
            return await tally() >= len(acknowledged) and notified >= len(acknowledged)

        await wait_for(everything_arrived, timeout_s=180, what="every event at both consumers")
        for group in (stack.group("targets-api"), stack.group("notifier")):
            await wait_caught_up(stack.bootstrap, group, [topic])
        for service in (petitions, targets, notifier):
            await service.ready(timeout_s=60)  # recovered without a restart
        readiness = await watch.stop()
        counted = await tally()
        summary = await sink_summary(http, sink)

    records = [
        r for r in await read_topic(stack.bootstrap, topic) if dict(r.headers).get("ce_type")
    ]
    created = [r for r in records if dict(r.headers)["ce_type"] == CASE_CREATED_V1.encode()]
    on_topic = {r.key.decode() for r in created}
    raw_repeats = sum(n - 1 for n in Counter(dict(r.headers)["ce_id"] for r in created).values())

    result.sent = len(acknowledged)
    result.received = min(len(on_topic & acknowledged), counted, summary["distinct_event_ids"])
    result.lost = len(acknowledged - on_topic)
    result.duplicated = (
        max(0, counted - len(acknowledged)) + summary["events_with_several_delivery_ids"]
    )
    result.notes = (
        f"POST answers {intake.statuses()}; {raw_repeats} raw repeat(s) on the topic, "
        f"{summary['repeated_requests']} at the webhook (absorbed by inbox / delivery id)"
    )
    result.details = {
        "post_statuses": intake.statuses(),
        "post_errors": intake.errors(),
        "readiness_changes": readiness,
        "readiness_during_outage": during,
        "targets_tally_created": counted,
        "sink": summary,
        "records_on_topic": len(created),
    }
    result.passed = (
        intake.statuses() == {"201": len(intake.answers)}
        and result.lost == 0
        and result.duplicated == 0
        and on_topic == acknowledged
    )
    result.write()

    assert intake.statuses() == {"201": len(intake.answers)}, intake.errors()
    assert during["petitions"] == 200  # intake stays ready: events wait in the outbox
    assert on_topic == acknowledged
    assert counted == len(acknowledged)
    assert summary["distinct_event_ids"] == len(acknowledged)
    assert summary["distinct_delivery_ids"] == len(acknowledged)
    assert summary["events_with_several_delivery_ids"] == 0
