"""Scenario 5: several operators act on the same case at the same moment, each with the ETag
they read (the same ``If-Match``). Exactly one wins; the others get 409 (the action is no
longer allowed) or 412 (the case changed since they read it); no update is lost or applied
twice: the timeline holds exactly the winner's entry, the version moved by one, and exactly
one lifecycle event left through the outbox.

Half the cases are raced with the same action (accept × 4), half with conflicting ones
(accept × 2 against decline × 2).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from .conftest import Stack
from .harness import CASE, Result

pytestmark = pytest.mark.faults

CASES = 20
RACERS = 4
OUTCOMES = {"accept": "gov.petitions.case.accepted.v1", "decline": "gov.petitions.case.declined.v1"}


async def _events_by_case(database_url: str) -> Counter[tuple[str, str]]:
    db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await db.fetch("SELECT message_key, event_type FROM outbox")
    finally:
        await db.close()
    return Counter((r["message_key"], r["event_type"]) for r in rows)


async def test_concurrent_operators_one_wins_and_no_update_is_lost(stack: Stack) -> None:
    result = Result(
        5,
        "Operators act on the same case at once",
        load=f"{CASES} cases × {RACERS} simultaneous actions with the same If-Match",
        fault="concurrent writers: same action (accept) or conflicting ones (accept/decline)",
        sent=CASES,
        received=0,
        lost=0,
        duplicated=0,
    )
    petitions = await (await stack.service("petitions")).launch()
    operators = [stack.auth.headers("operator", subject=f"operator-{n}") for n in range(RACERS)]
    per_case: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=petitions.url, timeout=30) as http:
        ids = []
        for n in range(CASES):
            created = await http.post(
                "/v1/cases", json={**CASE, "subject": f"并发 {n}"}, headers=operators[0]
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])

        async def act(case_id: str, who: int, action: str, etag: str) -> httpx.Response:
            body = {"reason": "不属于受理范围"} if action == "decline" else {}
            return await http.post(
                f"/v1/cases/{case_id}/actions/{action}",
                json=body,
                headers={**operators[who], "If-Match": etag, "X-Actor-Id": f"operator-{who}"},
            )

        for n, case_id in enumerate(ids):
            read = await http.get(f"/v1/cases/{case_id}", headers=operators[0])
            etag = read.headers["ETag"]
            actions = ["accept"] * RACERS if n % 2 == 0 else ["accept", "decline"] * (RACERS // 2)
            responses = await asyncio.gather(
                *(act(case_id, who, action, etag) for who, action in enumerate(actions))
            )
            after = (await http.get(f"/v1/cases/{case_id}", headers=operators[0])).json()
            timeline = (
                await http.get(f"/v1/cases/{case_id}/timeline", headers=operators[0])
            ).json()
            winners = [a for a, r in zip(actions, responses, strict=True) if r.status_code == 200]
            per_case.append(
                {
                    "id": case_id,
                    "actions": actions,
                    "statuses": [r.status_code for r in responses],
                    "winners": winners,
                    "steps": [e["action"] for e in timeline if e["action"] in OUTCOMES],
                    "version": after["version"],
                    "status": after["status"],
                }
            )

    events = await _events_by_case(await stack.database("petitions"))
    for case in per_case:
        case["events"] = [
            action for action, event_type in OUTCOMES.items() if events[(case["id"], event_type)]
        ]
        case["event_count"] = sum(events[(case["id"], t)] for t in OUTCOMES.values())

    def sound(case: dict[str, Any]) -> bool:
        return (
            len(case["winners"]) == 1
            and all(s in (200, 409, 412) for s in case["statuses"])
            and case["steps"] == case["winners"]
            and case["version"] == 2
            and case["status"] == {"accept": "accepted", "decline": "declined"}[case["winners"][0]]
            and case["event_count"] == 1
            and case["events"] == case["winners"]
        )

    losers = Counter(s for case in per_case for s in case["statuses"] if s != 200)
    result.received = sum(1 for c in per_case if len(c["steps"]) >= 1)
    result.lost = sum(1 for c in per_case if not c["steps"] or c["steps"] != c["winners"])
    result.duplicated = sum(max(0, len(c["steps"]) - 1) for c in per_case) + sum(
        max(0, c["event_count"] - 1) for c in per_case
    )
    result.notes = f"losers answered {dict(losers)}; one winner, one timeline entry per case"
    result.details = {"cases": per_case[:4], "unsound": [c for c in per_case if not sound(c)]}
    result.passed = all(sound(c) for c in per_case)
    result.write()

    unsound = [c for c in per_case if not sound(c)]
    assert not unsound, unsound[:3]
