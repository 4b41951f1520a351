"""Scenario 6: the consumers replay their topic from offset 0, and nothing changes.

Method: both consumers (targets-api and the notifier) are stopped; their consumer groups'
committed offsets are reset to 0 on every partition (by committing offset 0 as the group
while it has no members — what ``kafka-consumer-groups --reset-offsets --to-earliest`` does);
then they are started again and read the whole topic a second time. Their state must be what
it was: targets-api's tally and live grassroots figure, the notifier's deliveries, and what the
webhook receiver got. The logs must show every event skipped as already handled (the inbox).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from gov_common.clock import today_in_china
from gov_common.events import CloudEvent, new_event
from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.messaging.kafka import ensure_topics

from .conftest import Stack
from .harness import (
    Result,
    Service,
    committed_offsets,
    end_offsets,
    publish,
    reset_group_to_beginning,
    sink_summary,
    wait_caught_up,
)
from .intake import wait_for

pytestmark = pytest.mark.faults

CASES = 200  # each: created, resolved, closed → 600 events


def _case_events(n: int) -> list[CloudEvent]:
    case_id = uuid.uuid4()
    today = today_in_china()
    start = datetime.now(UTC)
    base = {
        "case_id": str(case_id),
        "case_number": f"XF{today.year}-{case_id.int % 10**8:08d}",
        "kind": "petition_case",
        "first_time": True,
        "handling_unit_id": "610203104",
    }
    grassroots = n % 3 != 0  # two in three resolved at the town
    steps = [
        (
            "created",
            {
                "channel": "visit",
                "subject": f"重放 {n}",
                "received_on": today.isoformat(),
                "created_at": start.isoformat(),
            },
        ),
        (
            "resolved",
            {
                "occurred_at": (start + timedelta(seconds=1)).isoformat(),
                "resolved_on": today.isoformat(),
                "resolution_unit_id": "610203104" if grassroots else "610203000",
                "resolution_level": "town" if grassroots else "district",
                "grassroots": grassroots,
                "effective": True,
                "definition_version": "grassroots-v1",
            },
        ),
        (
            "closed",
            {
                "occurred_at": (start + timedelta(seconds=2)).isoformat(),
                "closed_on": today.isoformat(),
                "rating": "satisfied",
            },
        ),
    ]
    return [
        new_event(
            source="/gov/petitions-api",
            type=f"gov.petitions.case.{step}.v1",
            subject=str(case_id),
            data=base | data,
        )
        for step, data in steps
    ]


async def _count(database_url: str, sql: str) -> dict[str, int]:
    db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return {str(r[0]): int(r[1]) for r in await db.fetch(sql)}
    finally:
        await db.close()


def _skipped_since_restart(service: Service) -> int:
    """How many events the process logged as already handled since its last start."""
    text = service.log_path.read_text(errors="replace")
    return text.rsplit("==== start", 1)[-1].count('"consumer.duplicate_skipped"')


async def test_replaying_the_topic_from_offset_zero_changes_no_state(stack: Stack) -> None:
    result = Result(
        6,
        "Consumers replay their topic from offset 0",
        load=f"{CASES * 3} case events ({CASES} cases: created, resolved, closed)",
        fault="both consumer groups reset to offset 0 while stopped, then restarted",
        sent=CASES * 3,
        received=0,
        lost=0,
        duplicated=0,
    )
    topic = stack.topic(PETITIONS_CASE_EVENTS)
    await ensure_topics(stack.bootstrap, [PETITIONS_CASE_EVENTS], prefix=stack.prefix)
    sink = await stack.sink().launch()
    targets = await (await stack.service("targets")).launch()
    notifier = await (
        await stack.service("notifier", NOTIFIER_WEBHOOK_URL=f"{sink.url}/hooks/case-events")
    ).launch()
    groups = [stack.group("targets-api"), stack.group("notifier")]
    events = [e for n in range(CASES) for e in _case_events(n)]
    await publish(stack.bootstrap, topic, events)
    year = today_in_china().year
    admin = stack.auth.headers("admin")
    notifier_db = await stack.database("notifier")
    targets_db = await stack.database("targets")

    async with httpx.AsyncClient(timeout=30) as http:

        async def state() -> dict[str, Any]:
            tally = (await http.get(targets.url + "/v1/live/case-events", headers=admin)).json()
            rate = (
                await http.get(
                    targets.url + "/v1/live/first-time-grassroots-rate",
                    params={"start": f"{year}-01-01", "end": f"{year}-12-31"},
                    headers=admin,
                )
            ).json()
            return {
                "tally": tally["counts"],
                "rate": {k: v for k, v in rate.items() if not k.endswith("_url")},
                "deliveries": await _count(
                    notifier_db, "SELECT status, count(*) FROM deliveries GROUP BY status"
                ),
                "targets_inbox": await _count(targets_db, "SELECT 'rows', count(*) FROM inbox"),
                "notifier_inbox": await _count(notifier_db, "SELECT 'rows', count(*) FROM inbox"),
                "sink": await sink_summary(http, sink),
            }

        async def all_notified() -> bool:
            return (await sink_summary(http, sink))["distinct_event_ids"] >= CASES

        for group in groups:
            await wait_caught_up(stack.bootstrap, group, [topic])
        await wait_for(all_notified, timeout_s=120, what="every case.created notified")
        before = await state()

        targets.stop()
        notifier.stop()
        for group in groups:
            await reset_group_to_beginning(stack.bootstrap, group, [topic])
        ends = await end_offsets(stack.bootstrap, [topic])
        reset = {g: await committed_offsets(stack.bootstrap, g, list(ends)) for g in groups}
        await targets.launch()
        await notifier.launch()
        for group in groups:
            await wait_caught_up(stack.bootstrap, group, [topic])
        after = await state()

    skipped = {
        "targets": _skipped_since_restart(targets),
        "notifier": _skipped_since_restart(notifier),
    }
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    expected_tally = {
        f"gov.petitions.case.{step}.v1": CASES for step in ("created", "resolved", "closed")
    }
    result.received = sum(before["tally"].values())
    result.lost = max(0, CASES * 3 - result.received)
    result.duplicated = max(0, sum(after["tally"].values()) - result.received) + max(
        0, after["sink"]["requests"] - before["sink"]["requests"]
    )
    result.notes = (
        f"replayed {sum(ends.values())} records per group; skipped as already handled: "
        f"{skipped}; state after replay {'identical' if not changed else 'CHANGED'}"
    )
    result.details = {"before": before, "after": after, "changed": changed, "skipped": skipped}
    result.passed = (
        not changed
        and before["tally"] == expected_tally
        and all(offset == 0 for offsets in reset.values() for offset in offsets.values())
        and all(n >= CASES * 3 for n in skipped.values())
    )
    result.write()

    assert before["tally"] == expected_tally
    assert before["rate"]["rate_percent"] is not None  # the figure is not trivial
    assert before["deliveries"] == {"succeeded": CASES}
    # The reset took: both groups were back at 0 before the restart, and they read it all again.
    assert all(offset == 0 for offsets in reset.values() for offset in offsets.values()), reset
    assert all(n >= CASES * 3 for n in skipped.values()), skipped
    assert not changed, changed
