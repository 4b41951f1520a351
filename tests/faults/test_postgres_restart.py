"""Scenario 3: PostgreSQL is restarted while cases are registered at a steady rate.

Each service's /readyz turns unready while the database is away and ready again after,
without the service being restarted; no acknowledged write (201) is lost — every case id
answered is readable afterwards — and every case that exists reaches both consumers once.
Requests made while the database is down fail (they are not acknowledged), which is allowed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.events.petitions import CASE_CREATED_V1

from .conftest import Stack
from .harness import Result, sink_summary, wait_caught_up
from .intake import ReadinessWatch, SteadyIntake, wait_for

pytestmark = pytest.mark.faults

RATE = 8  # cases a second
DOWN_S = 5


async def _case_ids(database_url: str) -> set[str]:
    db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return {str(r["id"]) for r in await db.fetch("SELECT id FROM cases")}
    finally:
        await db.close()


async def test_a_postgres_restart_loses_no_acknowledged_write_and_services_recover(
    stack: Stack,
) -> None:
    infrastructure = stack.infrastructure
    if not infrastructure.postgres_controllable:
        pytest.skip(f"PostgreSQL from {infrastructure.origin} cannot be restarted by the tests")
    result = Result(
        3,
        "PostgreSQL restarted under load",
        load=f"POST /v1/cases at {RATE}/s (~{DOWN_S + 20} s); /readyz polled every 0.25 s",
        fault=f"PostgreSQL stopped (fast shutdown), down {DOWN_S} s, started again",
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
    services = {"petitions": petitions, "targets": targets, "notifier": notifier}
    pids = {name: s.process.pid for name, s in services.items() if s.process}
    admin = stack.auth.headers("admin")
    topic = stack.topic(PETITIONS_CASE_EVENTS)

    async with httpx.AsyncClient(timeout=30) as http:
        intake = SteadyIntake(http, petitions, stack.auth.headers("operator"), RATE)
        watch = ReadinessWatch(http, services)
        intake.start()
        watch.start()
        stopped = False
        try:
            await asyncio.sleep(5)
            await asyncio.to_thread(infrastructure.stop_postgres)
            stopped = True
            await asyncio.sleep(DOWN_S)
        finally:
            if stopped:
                await asyncio.to_thread(infrastructure.start_postgres)
        # Keep the load on until every service has said "ready" again, and a while after.
        for service in services.values():
            await service.ready(timeout_s=120)
        answers_before_recovery = len(intake.answers)
        await asyncio.sleep(5)
        await intake.stop()
        readiness = await watch.stop()
        after_recovery = intake.answers[answers_before_recovery:]
        acknowledged = set(intake.acknowledged)

        unreadable: list[tuple[str, int]] = []
        for case_id in sorted(acknowledged):
            response = await http.get(f"{petitions.url}/v1/cases/{case_id}", headers=admin)
            if response.status_code != 200:
                unreadable.append((case_id, response.status_code))
        stored = await _case_ids(await stack.database("petitions"))

        async def tally() -> int:
            counts = (await http.get(targets.url + "/v1/live/case-events", headers=admin)).json()
            return int(counts["counts"].get(CASE_CREATED_V1, 0))

        async def everything_arrived() -> bool:
            notified = (await sink_summary(http, sink))["distinct_event_ids"]
            return await tally() >= len(stored) and notified >= len(stored)

        await wait_for(everything_arrived, timeout_s=180, what="every case's event at both")
        for group in (stack.group("targets-api"), stack.group("notifier")):
            await wait_caught_up(stack.bootstrap, group, [topic])
        counted = await tally()
        summary = await sink_summary(http, sink)

    still_running = {
        n: s.process is not None and s.process.poll() is None for n, s in services.items()
    }
    same_pids = {n: s.process.pid == pids[n] for n, s in services.items() if s.process}
    went_unready = {n: any(code != 200 for code in seen) for n, seen in readiness.items()}
    details: dict[str, Any] = {
        "post_statuses": intake.statuses(),
        "post_errors": intake.errors(3),
        "post_statuses_after_recovery": sorted({a.status or 0 for a in after_recovery}),
        "readiness_changes": readiness,
        "cases_stored": len(stored),
        "targets_tally_created": counted,
        "sink": summary,
        "unreadable": unreadable[:10],
    }
    result.sent = len(acknowledged)
    result.received = len(acknowledged) - len(unreadable)
    result.lost = len(unreadable) + len(acknowledged - stored)
    result.duplicated = max(0, counted - len(stored)) + summary["events_with_several_delivery_ids"]
    result.notes = (
        f"POST answers {intake.statuses()} (failures while the database was away are not "
        f"acknowledged); {len(stored)} cases stored, all {counted} counted by targets-api and "
        f"{summary['distinct_event_ids']} notified; readiness {readiness}"
    )
    result.details = details
    result.passed = (
        result.lost == 0
        and result.duplicated == 0
        and all(went_unready.values())
        and all(seen[-1] == 200 for seen in readiness.values())
        and all(still_running.values())
        and all(same_pids.values())
        and {a.status for a in after_recovery} == {201}
        and counted == len(stored)
    )
    result.write()

    assert not unreadable, unreadable[:10]
    assert acknowledged <= stored
    assert went_unready == {"petitions": True, "targets": True, "notifier": True}, readiness
    assert all(seen[-1] == 200 for seen in readiness.values()), readiness
    assert all(still_running.values()) and all(same_pids.values())  # never restarted
    assert {a.status for a in after_recovery} == {201}, intake.errors()
    assert counted == len(stored)
    assert summary["distinct_event_ids"] == len(stored)
    assert summary["events_with_several_delivery_ids"] == 0
