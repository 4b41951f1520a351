"""Scenario 1: the notifier is SIGKILLed in the middle of a burst of 5,000 events and started
again. The webhook receiver must see every notification exactly once, as a receiver that drops
repeated delivery ids sees them: 5,000 distinct delivery ids, one per event.

The events are published straight to ``petitions.case-events`` (as the petitions relay would,
but faster); the notifier's built-in rule sends each ``case.created`` to the counting sink.
A notification sent just before the kill and not yet recorded is sent again after the claim
lease ends, with the same delivery id: that is a raw repeat on the wire, counted and reported,
which receivers drop by ``webhook-id`` (the delivery id).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.messaging.kafka import ensure_topics

from .conftest import Stack
from .harness import Result, case_created, delivery_statuses, publish, sink_summary, wait_caught_up

pytestmark = pytest.mark.faults

EVENTS = 5000


async def test_a_notifier_killed_mid_burst_notifies_every_event_exactly_once(stack: Stack) -> None:
    result = Result(
        1,
        "Notifier SIGKILLed mid-burst, then restarted",
        load=f"{EVENTS:,} case.created events published at once; built-in webhook rule",
        fault="SIGKILL once a third of the webhooks arrived; started again at once",
        sent=EVENTS,
        received=0,
        lost=EVENTS,
        duplicated=0,
    )
    sink = await stack.sink().launch()
    notifier = await stack.service(
        "notifier",
        NOTIFIER_WEBHOOK_URL=f"{sink.url}/hooks/case-events",
        NOTIFIER_RATE_LIMITS="webhook=5000/1",
        NOTIFIER_DISPATCH_BATCH="250",
    )
    await ensure_topics(stack.bootstrap, [PETITIONS_CASE_EVENTS], prefix=stack.prefix)
    await notifier.launch()
    events = [case_created() for _ in range(EVENTS)]
    topic = stack.topic(PETITIONS_CASE_EVENTS)

    async with httpx.AsyncClient(timeout=30) as http:
        await publish(stack.bootstrap, topic, events)
        async with asyncio.timeout(240):
            while (await sink_summary(http, sink))["distinct_delivery_ids"] < EVENTS // 3:
                await asyncio.sleep(0.05)
        notifier.kill()
        at_kill = await sink_summary(http, sink)
        statuses_at_kill = await delivery_statuses(await stack.database("notifier"))

        await notifier.launch()
        database = await stack.database("notifier")
        async with asyncio.timeout(300):
            while (await delivery_statuses(database)).get("succeeded", 0) < EVENTS:
                await asyncio.sleep(0.5)
        await wait_caught_up(stack.bootstrap, stack.group("notifier"), [topic])
        statuses = await delivery_statuses(database)
        summary = await sink_summary(http, sink)
        received = (await http.get(sink.url + "/received")).json()

    expected_ids = {e.id for e in events}
    seen_ids = {r["event_id"] for r in received if r["signature_valid"]}
    details: dict[str, Any] = {
        "at_kill": at_kill,
        "deliveries_at_kill": statuses_at_kill,
        "final": summary,
        "deliveries": statuses,
    }
    result.received = len(seen_ids & expected_ids)
    result.lost = len(expected_ids - seen_ids)
    result.duplicated = summary["events_with_several_delivery_ids"]
    result.notes = (
        f"killed after {at_kill['distinct_delivery_ids']:,} notifications had arrived; "
        f"{summary['repeated_requests']} raw repeat(s) on the wire (same delivery id, "
        "dropped by the receiver)"
    )
    result.details = details
    result.passed = (
        result.lost == 0
        and result.duplicated == 0
        and summary["distinct_delivery_ids"] == EVENTS
        and summary["invalid_signatures"] == 0
        and statuses == {"succeeded": EVENTS}
        and seen_ids == expected_ids
    )
    result.write()

    assert at_kill["distinct_delivery_ids"] < EVENTS  # the kill did land mid-burst
    assert summary["invalid_signatures"] == 0
    assert seen_ids == expected_ids, f"lost: {len(expected_ids - seen_ids)}"
    assert summary["distinct_delivery_ids"] == EVENTS
    assert summary["events_with_several_delivery_ids"] == 0
    assert statuses == {"succeeded": EVENTS}
