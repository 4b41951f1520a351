"""The 信访 procedure of 《信访工作条例》 (2022), run as the roles that take each step.

- 第二十二条: the 信访部门 registers and forwards or assigns within 15 days; the organ that
  receives the case decides acceptance within 15 days and tells the petitioner in writing.
- 第三十一条: a decline names the statutory route the matter belongs to.
- Return (退单): the unit asks; the dispatching 信访部门 agrees (re-dispatch) or refuses.
- 第三十四条: an extension is approved by the head of the handling unit, no one else.
- 检举控告: the accused unit's people never see the case.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gov_common.clock import today_in_china
from gov_common.events.petitions import CASE_REQUEST_DECIDED_V1 as REQUEST_DECIDED
from gov_common.events.petitions import CASE_REQUEST_OPENED_V1 as REQUEST_OPENED
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.db import OutboxMessage

from .helpers import act, action_body, create, petition

pytestmark = pytest.mark.integration

HOUSING = "D-ZJJ"  # 区住建局
CHENGGUAN = "610203001"  # 城关街道
CHENLU, CHENLU_VILLAGE = "610203100", "610203100001"  # 陈炉镇, 陈炉镇示例村
HONGTU = "610203101"  # 红土镇
FIGURE_CASES = "/v1/metrics/repeat/cases"  # every case received in the period


async def _every_id(
    client: httpx.AsyncClient, path: str, params: dict[str, str], headers: dict[str, str]
) -> set[str]:
    """Every case id a list answers this caller, page after page (other tests' cases too)."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        page = await client.get(
            path,
            params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        assert page.status_code == 200, page.text
        body = page.json()
        ids |= {c["id"] for c in body["items"]}
        if not (cursor := body.get("next_cursor")):
            return ids


async def _request_events(app: FastAPI, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The request events of a case in the outbox, oldest first: (opened|decided, payload)."""
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.message_key == case_id,
                    OutboxMessage.event_type.in_([REQUEST_OPENED, REQUEST_DECIDED]),
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [
        (r.event_type.split(".")[3].removeprefix("request_"), orjson.loads(r.payload)) for r in rows
    ]


def _clock(case: dict[str, Any], kind: str) -> dict[str, Any]:
    (clock,) = [d for d in case["deadlines"] if d["kind"] == kind and not d["cancelled_at"]][-1:]
    return clock


async def test_a_petition_is_forwarded_within_15_days_then_accepted_by_the_organ_art22(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    operator = auth.headers("operator", subject="xfj-registrar")
    housing = auth.headers("handler", org_unit=HOUSING, subject="zjj-handler")
    received = date(2026, 11, 20)
    case = await create(client, petition(received_on=received.isoformat()), **operator)
    forwarding = _clock(case, "forwarding")
    assert forwarding["due_on"] == "2026-12-07"  # 20 Nov + 15 = 5 Dec, a Saturday → Monday
    assert case["allowed_actions"] == ["dispatch", "decline"]

    # The registry does not decide acceptance; the organ does, after it received the case.
    assert (
        (await act(client, case["id"], "accept", action_body("accept"), **operator))
        .json()["type"]
        .endswith("/action-not-allowed")
    )
    dispatched = await act(client, case["id"], "dispatch", {}, **operator)
    assert dispatched.status_code == 200, dispatched.text
    after = dispatched.json()
    assert after["handling_unit_id"] == HOUSING
    assert _clock(after, "forwarding")["met_at"] is not None
    acceptance = _clock(after, "acceptance")
    assert acceptance["met_at"] is None
    assert acceptance["started_at"][:10] <= today_in_china().isoformat()

    refused = await act(client, case["id"], "accept", action_body("accept"), **operator)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/not-your-step")
    no_notice = await act(client, case["id"], "accept", {}, **housing)
    assert no_notice.status_code == 422 and "书面告知" in no_notice.json()["detail"]

    notice = {"notice": {"means": "post", "given_on": today_in_china().isoformat()}}
    accepted = await act(client, case["id"], "accept", notice, **housing)
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "in_progress" and body["accepted_on"] == today_in_china().isoformat()
    assert body["decision_notice_means"] == "post"
    assert _clock(body, "acceptance")["met_at"] is not None
    assert _clock(body, "handling")["met_at"] is None  # 60 days from acceptance (第三十四条)


async def test_a_decline_names_its_statutory_route_art31(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    operator = auth.headers("operator", subject="xfj-registrar")
    case = await create(client, petition(), **operator)
    free_text = await act(client, case["id"], "decline", {"reason": "走法律途径"}, **operator)
    assert free_text.status_code == 422 and "route" in free_text.json()["detail"]
    unknown = {**action_body("decline"), "route": "somewhere"}
    assert (await act(client, case["id"], "decline", unknown, **operator)).status_code == 422
    declined = await act(client, case["id"], "decline", action_body("decline"), **operator)
    assert declined.status_code == 200
    assert declined.json()["decline_route"] == "litigation"
    assert declined.json()["status"] == "declined"


async def test_a_return_waits_on_the_registry_which_refuses_or_re_dispatches(
    client: httpx.AsyncClient, app: FastAPI, auth: SessionAuth
) -> None:
    operator = auth.headers("operator", subject="xfj-registrar")
    town = auth.headers("handler", org_unit=CHENGGUAN, subject="cg-handler")
    case = await create(client, petition(), **operator)
    await act(client, case["id"], "dispatch", {"to_unit_id": CHENGGUAN}, **operator)

    asked = await act(client, case["id"], "return", action_body("return"), **town)
    assert asked.status_code == 200, asked.text
    waiting = asked.json()
    # Until decided, the case and its acceptance clock stay with the unit.
    assert waiting["status"] == "dispatched" and waiting["handling_unit_id"] == CHENGGUAN
    assert waiting["pending_request"]["kind"] == "return"
    assert _clock(waiting, "acceptance")["met_at"] is None
    assert waiting["allowed_actions"] == ["accept", "decline"]  # not a second request
    assert (
        await act(client, case["id"], "approve_return", {"to_unit_id": HOUSING}, **town)
    ).status_code == 403

    refused = await act(
        client, case["id"], "refuse_return", action_body("refuse_return"), **operator
    )
    assert refused.status_code == 200
    stays = refused.json()
    assert stays["handling_unit_id"] == CHENGGUAN and stays["pending_request"] is None
    # Published, so the registry is told a request waits and the unit how it was decided.
    (opened, asked_for), (decided, answer) = await _request_events(app, case["id"])
    assert (opened, asked_for["request"], asked_for["decided_by"]) == (
        "opened",
        "return",
        "registry",
    )
    assert asked_for["handling_unit_id"] == CHENGGUAN and asked_for["reason"]
    assert (decided, answer["approved"], answer["requested_by"]) == ("decided", False, "cg-handler")
    again = await act(client, case["id"], "return", action_body("return"), **town)
    assert again.status_code == 409 and "refused" in again.json()["detail"]

    other = await create(client, petition(), **operator)
    await act(client, other["id"], "dispatch", {"to_unit_id": CHENGGUAN}, **operator)
    await act(client, other["id"], "return", action_body("return"), **town)
    approved = await act(client, other["id"], "approve_return", {"to_unit_id": HOUSING}, **operator)
    assert approved.status_code == 200, approved.text
    moved = approved.json()
    assert moved["handling_unit_id"] == HOUSING and moved["status"] == "dispatched"
    acceptance = [d for d in moved["deadlines"] if d["kind"] == "acceptance"]
    assert [bool(d["cancelled_at"]) for d in acceptance] == [True, False]  # the new organ's own


async def test_only_the_handling_units_head_approves_an_extension_art34(
    client: httpx.AsyncClient, app: FastAPI, auth: SessionAuth
) -> None:
    operator = auth.headers("operator", subject="xfj-registrar")
    handler = auth.headers("handler", org_unit=HOUSING, subject="zjj-handler")
    head = auth.headers("unit_head", org_unit=HOUSING, subject="zjj-head")
    district_head = auth.headers("unit_head", org_unit="610203", subject="district-head")
    supervisor = auth.headers("supervisor", subject="xfj-supervisor")
    case = await create(client, petition(), **operator)
    await act(client, case["id"], "dispatch", {}, **operator)
    accepted = (await act(client, case["id"], "accept", action_body("accept"), **handler)).json()
    due = _clock(accepted, "handling")["due_on"]

    asked = await act(
        client, case["id"], "request_extension", action_body("request_extension"), **handler
    )
    assert asked.status_code == 200, asked.text
    assert asked.json()["extended"] is False and _clock(asked.json(), "handling")["due_on"] == due

    body = action_body("approve_extension")
    assert (
        await act(client, case["id"], "approve_extension", body, **supervisor)
    ).status_code == 403
    assert (await act(client, case["id"], "approve_extension", body, **handler)).status_code == 403
    above = await act(client, case["id"], "approve_extension", body, **district_head)
    assert above.status_code == 409 and above.json()["type"].endswith("/not-your-step")
    offered = (await client.get(f"/v1/cases/{case['id']}", headers=head)).json()
    assert offered["allowed_actions"] == ["approve_extension", "refuse_extension"]

    approved = await act(client, case["id"], "approve_extension", body, **head)
    assert approved.status_code == 200, approved.text
    extended = approved.json()
    assert extended["extended"] is True and _clock(extended, "handling")["due_on"] > due
    timeline = (await client.get(f"/v1/cases/{case['id']}/timeline", headers=operator)).json()
    entry = timeline[-1]
    assert entry["action"] == "approve_extension" and entry["actor"] == "zjj-head"
    assert entry["details"]["notice_means"] == "post" and entry["details"]["approver"] == "zjj-head"
    (_, asked_for), (_, answer) = await _request_events(app, case["id"])
    assert (asked_for["request"], asked_for["decided_by"]) == ("extension", "unit_head")
    assert asked_for["days"] == action_body("request_extension")["days"]
    assert asked_for["handling_unit_id"] == HOUSING  # a rule sends it to this unit's head
    assert answer["approved"] is True and answer["requested_by"] == "zjj-handler"


async def test_a_case_accusing_a_unit_is_invisible_to_its_people_everywhere(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    operator = auth.headers("operator", subject="xfj-registrar")
    accused_town = auth.headers("handler", org_unit=CHENLU, subject="chenlu-handler")
    accused_village = auth.headers("handler", org_unit=CHENLU_VILLAGE, subject="village")
    other_town = auth.headers("handler", org_unit=HONGTU, subject="hongtu-handler")
    case = await create(
        client,
        petition(
            subject="检举陈炉镇干部违规收费",
            description="反映陈炉镇工作人员在办理低保时收取费用。",
            place={"unit_id": CHENLU_VILLAGE},
            accused_unit_id=CHENLU,
        ),
        **operator,
    )
    assert case["accused_unit_id"] == CHENLU
    for who in (accused_town, accused_village):
        assert (await client.get(f"/v1/cases/{case['id']}", headers=who)).status_code == 404
        assert (
            await client.get(f"/v1/cases/{case['id']}/timeline", headers=who)
        ).status_code == 404
        assert case["id"] not in await _every_id(client, "/v1/cases", {}, who)
        open311 = await client.get(
            "/open311/v2/requests.json",
            params={"service_request_id": case["case_number"]},
            headers=who,
        )
        assert open311.status_code in (200, 404) and case["case_number"] not in open311.text
        figure = await _every_id(client, FIGURE_CASES, {"period": "2026"}, who)
        assert case["id"] not in figure
    # Seen where it belongs (the same lists show it), and never sent to the accused.
    assert (await client.get(f"/v1/cases/{case['id']}", headers=operator)).status_code == 200
    assert case["id"] in await _every_id(client, "/v1/cases", {}, operator)
    assert case["id"] in await _every_id(client, FIGURE_CASES, {"period": "2026"}, operator)
    assert (await client.get(f"/v1/cases/{case['id']}", headers=other_town)).status_code == 404
    sent = await act(client, case["id"], "dispatch", {"to_unit_id": CHENLU_VILLAGE}, **operator)
    assert sent.status_code == 422 and CHENLU in sent.json()["detail"]


async def test_review_goes_to_the_organ_above_the_one_that_replied_and_re_review_above_that_art35(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    """第三十五条: 复查 by the organ one level above the one that replied (上一级行政机关), 复核
    by the one above that; each is the reviewing organ's to accept, not the replying unit's."""
    operator = auth.headers("operator", subject="xfj-registrar")
    village = auth.headers("handler", org_unit=CHENLU_VILLAGE, subject="village-handler")
    town = auth.headers("handler", org_unit=CHENLU, subject="chenlu-handler")
    district = auth.headers("handler", org_unit="610203", subject="district-handler")

    # In the village's place: it sees every stage (属地) but acts on none above it.
    case = await create(client, petition(place={"unit_id": CHENLU_VILLAGE}), **operator)
    await act(client, case["id"], "dispatch", {"to_unit_id": CHENLU_VILLAGE}, **operator)
    for step in ("accept", "reply"):
        done = await act(client, case["id"], step, action_body(step), **village)
        assert done.status_code == 200, (step, done.text)
    asked = await act(
        client, case["id"], "request_review", action_body("request_review"), **operator
    )
    assert asked.status_code == 200, asked.text
    review_id = asked.headers["location"].rsplit("/", 1)[1]
    review = (await client.get(f"/v1/cases/{review_id}", headers=operator)).json()
    assert review["review_stage"] == "review" and review["handling_unit_id"] == CHENLU
    assert [d["kind"] for d in review["deadlines"]] == ["review"]  # 30 days (第三十五条)

    own = await act(client, review_id, "accept", action_body("accept"), **village)
    assert own.status_code == 409, own.text  # the unit that replied does not review itself
    assert own.json()["type"].endswith("/not-the-handling-unit")
    for step in ("accept", "reply"):
        done = await act(client, review_id, step, action_body(step), **town)
        assert done.status_code == 200, (step, done.text)
    again = await act(
        client, review_id, "request_review", action_body("request_review"), **operator
    )
    assert again.status_code == 200, again.text
    re_review_id = again.headers["location"].rsplit("/", 1)[1]
    re_review = (await client.get(f"/v1/cases/{re_review_id}", headers=operator)).json()
    assert re_review["review_stage"] == "re_review" and re_review["handling_unit_id"] == "610203"
    assert [d["kind"] for d in re_review["deadlines"]] == ["re_review"]
    below = await act(client, re_review_id, "accept", action_body("accept"), **town)
    assert below.status_code == 409 and below.json()["type"].endswith("/not-the-handling-unit")
    accepted = await act(client, re_review_id, "accept", action_body("accept"), **district)
    assert accepted.status_code == 200, accepted.text
