"""Scenario 8: a rolling restart under steady load. Two petitions-api replicas behind a
balancer that checks readiness take cases at a steady rate; each replica in turn is replaced
(a new one started and ready, then the old one sent SIGTERM), and one of two notifier
replicas is sent SIGTERM while the webhooks flow.

No request fails: a replica told to stop reports itself draining on /readyz, keeps serving
until the balancer has moved away (``GOV_SHUTDOWN_DRAIN_S``), then stops accepting and answers
what is in flight. No event is lost or delivered twice: every acknowledged case is on the topic
once, and the webhook receiver gets each case's notification once — not even a raw resend,
since nothing was killed: the relay finishes its batch and records it, the notifier finishes
its sends and records them, and the consumer commits what it handled.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import httpx
import pytest

from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.events.petitions import CASE_CREATED_V1

from .conftest import Stack
from .harness import (
    Result,
    Service,
    delivery_statuses,
    read_topic,
    sink_received,
    sink_summary,
    wait_caught_up,
)
from .intake import Balancer, SteadyIntake, wait_for

pytestmark = pytest.mark.faults

RATE = 10  # cases a second
# Longer than the balancer takes to drop a replica (3 failed checks 0.25 s apart, each given up
# to 5 s: on a busy machine a check can wait that long for the CPU), as it must be in production.
DRAIN_S = "12"
# uvicorn stops gracefully, then re-raises the signal, as a well-behaved process should.
STOPPED_BY_SIGTERM = (0, -signal.SIGTERM)


async def _terminate(replica: Service) -> int | None:
    return await asyncio.to_thread(replica.stop, signal.SIGTERM, 60)


async def test_a_rolling_restart_under_load_fails_no_request_and_loses_or_repeats_no_event(
    stack: Stack,
) -> None:
    result = Result(
        8,
        "Rolling restart under steady intake (SIGTERM)",
        load=f"POST /v1/cases at {RATE}/s through a readiness-checking balancer, two replicas",
        fault="each petitions-api replica replaced in turn (SIGTERM), one of two notifiers "
        "sent SIGTERM mid-stream",
        sent=0,
        received=0,
        lost=0,
        duplicated=0,
    )
    sink = await stack.sink().launch()
    hook = {"NOTIFIER_WEBHOOK_URL": f"{sink.url}/hooks/case-events"}
    drain = {"GOV_SHUTDOWN_DRAIN_S": DRAIN_S}

    async def petitions_replica(n: int) -> Service:
        return await stack.service("petitions", replica=n, **drain)

    old = [await (await petitions_replica(1)).launch(), await (await petitions_replica(2)).launch()]
    notifiers = [
        await (await stack.service("notifier", replica=n, **hook)).launch() for n in (1, 2)
    ]
    topic = stack.topic(PETITIONS_CASE_EVENTS)
    exit_codes: dict[str, int | None] = {}

    # Like any balancer in front of uvicorn, it lets idle connections go before uvicorn does
    # (uvicorn: 5 s), or a request sent on a connection the server is closing is lost.
    idle = httpx.Limits(keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=30, limits=idle) as http:
        balancer = Balancer(http)
        for replica in old:
            balancer.add(replica)
        await balancer.start()
        intake = SteadyIntake(http, balancer, stack.auth.headers("operator"), RATE)
        intake.start()
        try:
            await asyncio.sleep(3)
            for n, replica in enumerate(old, start=3):
                # A rolling update: the new replica first, the old one once it serves.
                new = await (await petitions_replica(n)).launch()
                balancer.add(new)
                await wait_for(
                    lambda new=new: _in_rotation(balancer, new),
                    timeout_s=30,
                    every_s=0.05,
                    what=f"{new.name} in rotation",
                )
                exit_codes[replica.name] = await _terminate(replica)
                if n == 3:
                    exit_codes[notifiers[0].name] = await _terminate(notifiers[0])
                await asyncio.sleep(2)
        finally:
            await intake.stop()
            readiness = await balancer.stop()
        acknowledged = set(intake.acknowledged)

        async def everything_delivered() -> bool:
            return (await sink_summary(http, sink))["distinct_event_ids"] >= len(acknowledged)

        await wait_for(everything_delivered, timeout_s=180, what="every case's webhook")
        await wait_caught_up(stack.bootstrap, stack.group("notifier"), [topic])
        summary = await sink_summary(http, sink)
        received = await sink_received(http, sink)
    statuses = await delivery_statuses(await stack.database("notifier"))

    created = [
        r
        for r in await read_topic(stack.bootstrap, topic)
        if dict(r.headers).get("ce_type") == CASE_CREATED_V1.encode()
    ]
    on_topic = Counter(r.key.decode() for r in created)
    event_of_case = {r.key.decode(): dict(r.headers)["ce_id"].decode() for r in created}
    notified = Counter(r["event_id"] for r in received if r["signature_valid"])

    result.sent = len(acknowledged)
    result.received = len({event_of_case.get(c) for c in acknowledged} & set(notified))
    result.lost = len(acknowledged - set(on_topic)) + len(
        {event_of_case[c] for c in acknowledged if c in event_of_case} - set(notified)
    )
    result.duplicated = sum(n - 1 for n in on_topic.values()) + summary["repeated_requests"]
    result.notes = (
        f"POST answers {intake.statuses()}; replicas' readiness seen by the balancer "
        f"{sorted(readiness.values())}; exit codes {sorted(exit_codes.values())}"
    )
    result.details = {
        "post_statuses": intake.statuses(),
        "post_errors": intake.errors(),
        "readiness_seen_by_balancer": readiness,
        "exit_codes": exit_codes,
        "sink": summary,
        "deliveries": statuses,
        "case_created_on_topic": len(created),
    }
    result.passed = (
        intake.statuses() == {"201": len(intake.answers)}
        and result.lost == 0
        and result.duplicated == 0
        and set(on_topic) == acknowledged
        and all(code in STOPPED_BY_SIGTERM for code in exit_codes.values())
    )
    result.write()

    # No request failed: every POST answered 201, through every replacement.
    assert intake.statuses() == {"201": len(intake.answers)}, intake.errors()
    # Each terminated replica stopped by itself (no SIGKILL) after draining: the balancer saw
    # it ready, then draining (503), then gone.
    assert all(code in STOPPED_BY_SIGTERM for code in exit_codes.values()), exit_codes
    for replica in old:
        seen = readiness[replica.name]
        assert seen[-1] == 0 and 503 in seen[seen.index(200) :], readiness
    # No event lost or delivered twice: once on the topic, once at the receiver.
    assert set(on_topic) == acknowledged
    assert all(n == 1 for n in on_topic.values()), on_topic.most_common(3)
    assert set(notified) == {event_of_case[c] for c in acknowledged}
    assert all(n == 1 for n in notified.values()), notified.most_common(3)
    assert summary["repeated_requests"] == 0
    assert summary["events_with_several_delivery_ids"] == 0
    assert statuses == {"succeeded": len(acknowledged)}


async def _in_rotation(balancer: Balancer, replica: Service) -> bool:
    return replica in balancer.ready
