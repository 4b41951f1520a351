"""Every action from every state, generated from the state machine's own table; and what each
step records: timeline, events, clocks, ETag."""

from __future__ import annotations

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from petitions_api.cases.lifecycle import (
    REQUESTS,
    TRANSITIONS,
    Action,
    CaseStatus,
    Position,
    Track,
    allowed_actions,
)
from petitions_api.db import OutboxMessage

from .helpers import PATHS, PETITION_PATHS, act, case_in, create, hotline, petition

pytestmark = pytest.mark.integration

KINDS = {Track.HOTLINE: "hotline_ticket", Track.PETITION: "petition_case"}
TRIPLES = [
    (track, state, action)
    for track, paths in ((Track.HOTLINE, PATHS), (Track.PETITION, PETITION_PATHS))
    for state in CaseStatus
    if state.value in paths
    for action in Action
]


@pytest.mark.parametrize(
    ("track", "state", "action"), TRIPLES, ids=[f"{t}-{s}-{a}" for t, s, a in TRIPLES]
)
async def test_every_action_from_every_state_of_each_track(
    client: httpx.AsyncClient, track: Track, state: CaseStatus, action: Action
) -> None:
    body = hotline() if track is Track.HOTLINE else petition()
    case = await case_in(client, state.value, body)
    where = Position(track, state)

    ticket_extension = track is Track.HOTLINE and action is Action.EXTEND
    body = (
        {"days": 5, "reason": "需要协调供电公司"} if ticket_extension else None
    )  # the city's limit
    response = await act(client, case["id"], action.value, body)

    step = TRANSITIONS[track].get((state, action))
    if step is not None and action in allowed_actions(where):
        assert response.status_code == 200, response.text
        after = response.json()
        assert after["status"] == step.next.value
        assert after["version"] == case["version"] + 1
        pending = REQUESTS.get((track, action))
        expected = allowed_actions(
            Position(track, CaseStatus(after["status"]), pending, after["accepted_on"] is not None)
        )
        assert after["allowed_actions"] == [a.value for a in expected]
        assert (after["pending_request"] or {}).get("kind") == (pending and pending.value)
    else:
        assert response.status_code == 409, response.text
        problem = response.json()
        assert problem["type"].endswith("/action-not-allowed")
        assert problem["allowed_actions"] == [a.value for a in allowed_actions(where)]
        assert action.value in problem["detail"] and state.value in problem["detail"]
        unchanged = (await client.get(f"/v1/cases/{case['id']}")).json()
        assert unchanged["version"] == case["version"]


async def _events(app: FastAPI, case_id: str) -> list[tuple[str, dict[str, object]]]:
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.message_key == case_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [(r.event_type.split(".")[3], orjson.loads(r.payload)) for r in rows]


async def test_a_petition_walked_to_closure_records_every_step_and_event(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    case = await create(client, petition())
    assert case["handling_unit_id"] == "D-ZJJ"  # HEATING routes to 区住建局
    assert case["town_unit_id"] == "610203001"  # 城关街道
    assert [d["kind"] for d in case["deadlines"]] == ["forwarding"]  # 第二十二条: 15 days
    steps = [
        ("dispatch", {"to_unit_id": "610203001"}),
        ("return", None),
        ("approve_return", {"to_unit_id": "610203001001"}),
        ("accept", None),
        ("supervise", None),
        ("request_extension", None),
        ("approve_extension", None),
        ("reply", None),
        ("rate", {"rating": "satisfied"}),
        ("close", None),
    ]
    for action, body in steps:
        response = await act(client, case["id"], action, body)
        assert response.status_code == 200, (action, response.text)
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["resolution_unit_id"] == "610203001001"
    assert closed["resolution_level"] == "village"
    assert closed["grassroots"] is True and closed["effective"] is True
    assert closed["on_time"] is True and closed["extended"] is True

    timeline = (await client.get(f"/v1/cases/{case['id']}/timeline")).json()
    assert [e["action"] for e in timeline] == ["register"] + [a for a, _ in steps]
    assert all(e["actor"] == "operator-1" for e in timeline[1:])
    assert timeline[2]["reason"] == "非本单位职责"
    # The return waits on the 信访部门: the case stays dispatched to the unit meanwhile.
    assert timeline[2]["from_status"] == "dispatched" and timeline[2]["to_status"] == "dispatched"

    kinds = [kind for kind, _ in await _events(app, case["id"])]
    assert kinds == [
        "created",
        "dispatched",
        "request_opened",  # the return waits on the registry
        "request_decided",
        "returned",
        "dispatched",
        "accepted",
        "supervised",
        "request_opened",  # the extension waits on the unit's head
        "request_decided",
        "extended",
        "replied",
        "resolved",
        "closed",
    ]
    events = dict(await _events(app, case["id"]))
    resolved = events["resolved"]
    assert resolved["grassroots"] is True and resolved["effective"] is True
    assert resolved["town_unit_id"] == "610203001"
    assert resolved["definition_version"] == "grassroots-v1"
    assert resolved["first_time"] is True and resolved["actor"] == "operator-1"
    for _, payload in await _events(app, case["id"]):
        assert "李四" not in orjson.dumps(payload).decode()


async def test_a_hotline_ticket_runs_on_its_category_tier_clock(client: httpx.AsyncClient) -> None:
    urgent = await create(client, hotline(category_code="GAS-LEAK", urgent=True))
    (clock,) = urgent["deadlines"]
    assert clock["kind"] == "hotline" and clock["due_on"] is None  # 2 hours on the clock
    ordinary = await create(client, hotline())
    assert ordinary["deadlines"][0]["due_on"] is not None  # working days
    assert ordinary["handling_unit_id"] == "610203100"  # VILLAGE-AFFAIRS → the place's town


async def test_if_match_protects_against_lost_updates(client: httpx.AsyncClient) -> None:
    case = await create(client, petition())
    stale = await act(client, case["id"], "dispatch", **{"If-Match": '"7"'})
    assert stale.status_code == 412
    # If-Match compares strongly (RFC 9110 §13.1.1): a weak tag is not the version read, and
    # a tag without its quotes is no ETag (gov_common.preconditions, as in every service).
    weak = await act(client, case["id"], "dispatch", **{"If-Match": 'W/"1"'})
    assert weak.status_code == 412 and "weak" in weak.json()["detail"]
    unquoted = await act(client, case["id"], "dispatch", **{"If-Match": "1"})
    assert unquoted.status_code == 400 and unquoted.json()["type"].endswith("/invalid-if-match")
    fresh = await act(client, case["id"], "dispatch", **{"If-Match": '"1"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"2"'


async def test_guards_refuse_with_a_reason_and_the_allowed_actions(
    client: httpx.AsyncClient,
) -> None:
    case = await case_in(client, "in_progress")
    assert (await act(client, case["id"], "request_extension")).status_code == 200
    assert (await act(client, case["id"], "approve_extension")).status_code == 200
    second = await act(client, case["id"], "request_extension")
    assert second.status_code == 409
    assert second.json()["type"].endswith("/action-refused")
    assert "already extended" in second.json()["detail"]
    assert "request_extension" in second.json()["allowed_actions"]

    rated = await case_in(client, "replied")
    await act(client, rated["id"], "rate", {"rating": "satisfied"})
    refused = await act(client, rated["id"], "reopen")
    assert refused.status_code == 409 and "dissatisfied" in refused.json()["detail"]


async def test_actions_need_a_signed_in_actor_and_a_valid_body(
    client: httpx.AsyncClient, bare: httpx.AsyncClient
) -> None:
    case = await create(client, petition())
    no_actor = await bare.post(f"/v1/cases/{case['id']}/actions/accept", json={})
    assert no_actor.status_code == 401
    assert "sign in" in no_actor.json()["detail"]
    # The actor is the token's subject: an X-Actor-Id header names nobody.
    named = await act(client, case["id"], "supervise", **{"X-Actor-Id": "someone-else"})
    assert named.status_code == 200 and named.json()["supervisor_id"] == "operator-1"
    sent_name = await act(
        client, case["id"], "extend", {"days": 5, "reason": "x", "approver": "district-lead"}
    )
    assert sent_name.status_code == 422  # nobody approves by naming themselves in a body
    bad = await act(client, case["id"], "decline", {})
    assert bad.status_code == 422 and "reason" in bad.json()["detail"]
    unknown = await act(client, case["id"], "dispatch", {"to_unit_id": "NOPE"})
    assert unknown.status_code == 404 or unknown.status_code == 409 or unknown.status_code == 422
    again = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert again["version"] == 2 and again["status"] == "registered"  # only the supervision


async def test_escalation_goes_up_only(client: httpx.AsyncClient) -> None:
    case = await case_in(client, "in_progress")  # handled by 区住建局 (department)
    down = await act(client, case["id"], "escalate", {"to_unit_id": "610203001", "reason": "x"})
    assert down.status_code == 422 and "higher level" in down.json()["detail"]
    up = await act(client, case["id"], "escalate")
    assert up.status_code == 200 and up.json()["handling_unit_id"] == "610203"


async def test_review_and_re_review_then_the_matter_is_final(client: httpx.AsyncClient) -> None:
    """第三十五条、第三十六条: 复查 by the organ above the one that replied, 复核 by the one
    above that — here a village replied, 城关街道 reviews, the district re-reviews."""
    original = await case_in(client, "closed", petition(handling_unit_id="610203001001"))
    assert original["resolution_unit_id"] == "610203001001"
    response = await act(client, original["id"], "request_review")
    assert response.status_code == 200
    review_id = response.headers["location"].rsplit("/", 1)[1]
    review = (await client.get(f"/v1/cases/{review_id}")).json()
    assert review["review_stage"] == "review" and review["parent_case_id"] == original["id"]
    assert [d["kind"] for d in review["deadlines"]] == ["review"]
    assert review["handling_unit_id"] == "610203001"  # 城关街道, above the village

    for step in ["accept", "reply", "rate", "close"]:
        assert (await act(client, review_id, step)).status_code == 200, step
    re_review_id = (
        (await act(client, review_id, "request_review")).headers["location"].rsplit("/", 1)[1]
    )
    re_review = (await client.get(f"/v1/cases/{re_review_id}")).json()
    assert re_review["handling_unit_id"] == "610203"  # the district, above 城关街道
    assert [d["kind"] for d in re_review["deadlines"]] == ["re_review"]
    for step in ["accept", "reply", "rate", "close"]:
        assert (await act(client, re_review_id, step)).status_code == 200, step
    refused = await act(client, re_review_id, "request_review")
    assert refused.status_code == 409 and "final" in refused.json()["detail"]
    assert (await client.get(f"/v1/cases/{original['id']}")).json()["final"] is True

    petitioner = (await client.get(f"/v1/cases/{original['id']}/petitioner")).json()
    del petitioner["masked"]
    again = await create(client, petition(petitioner=petitioner))
    assert again["repeat_of"] is not None and again["first_time"] is False
    refused_again = await act(client, again["id"], "dispatch")
    assert refused_again.status_code == 409 and "复核" in refused_again.json()["detail"]
    assert (await act(client, again["id"], "decline")).status_code == 200


async def test_every_transition_is_on_the_timeline_with_the_actor(
    client: httpx.AsyncClient,
) -> None:
    case = await case_in(client, "dispatched")
    timeline = (await client.get(f"/v1/cases/{case['id']}/timeline")).json()
    assert [(e["from_status"], e["to_status"]) for e in timeline] == [
        (None, "registered"),
        ("registered", "dispatched"),
    ]
    assert timeline[1]["details"]["to_unit_id"] == "D-ZJJ"
