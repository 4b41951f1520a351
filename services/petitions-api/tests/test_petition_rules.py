"""Rules of 《信访工作条例》 (2022) a 信访局 reviewer checks first, run as the roles that act.

- 第二十二条: a matter goes to the organ with authority over it (有权处理的机关、单位), which
  handles and answers it. A town sees a department's case located in the town (属地) but may
  not act on it.
- 第三十六条: after 复核 the same request on the same facts is not accepted again — along the
  whole chain of filings of that matter, not only the one linked directly.
- Repeat petitions (重复信访) and first-time ones (初信初访): the same kind of case, the same
  matter (never the subject alone), and every decision published so the 80% figure follows.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gov_common.testing import TestAuth as SessionAuth
from petitions_api.cases import repeats
from petitions_api.db import OutboxMessage

from .helpers import act, action_body, case_in, create, hotline, petition

pytestmark = pytest.mark.integration

CHENLU_VILLAGE = "610203100001"  # 陈炉镇示例村
CHENLU = "610203100"  # 陈炉镇
HOUSING = "D-ZJJ"  # 区住建局
REPEAT_CHANGED = "gov.petitions.case.repeat_changed.v1"


async def _dispatched_to_housing_in_chenlu(client: httpx.AsyncClient) -> dict[str, Any]:
    case = await create(
        client, petition(place={"unit_id": CHENLU_VILLAGE, "address": "陈炉镇某小区"})
    )
    dispatched = await act(client, case["id"], "dispatch", {"to_unit_id": HOUSING})
    assert dispatched.status_code == 200, dispatched.text
    return dispatched.json()


async def test_a_town_sees_a_departments_case_in_its_place_but_may_not_act_on_it_art22(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    case = await _dispatched_to_housing_in_chenlu(client)
    town = auth.headers("handler", org_unit=CHENLU, subject="chenlu-handler")
    department = auth.headers("handler", org_unit=HOUSING, subject="zjj-handler")

    seen = await client.get(f"/v1/cases/{case['id']}", headers=town)
    assert seen.status_code == 200  # 属地: the town sees the case in its place
    assert seen.json()["allowed_actions"] == []  # … and is offered nothing
    listed = await client.get("/v1/cases", params={"limit": 200}, headers=town)
    mine = [c for c in listed.json()["items"] if c["id"] == case["id"]]
    assert mine and mine[0]["allowed_actions"] == []

    for action in ("accept", "return", "decline"):
        refused = await act(client, case["id"], action, action_body(action), **town)
        assert refused.status_code == 409, (action, refused.text)
        problem = refused.json()
        assert problem["type"].endswith("/not-the-handling-unit")
        assert problem["allowed_actions"] == [] and HOUSING in problem["detail"]
    unchanged = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert unchanged["version"] == case["version"] and unchanged["status"] == "dispatched"

    offered = (await client.get(f"/v1/cases/{case['id']}", headers=department)).json()
    assert offered["allowed_actions"] == ["accept", "decline", "return"]
    taken = await act(client, case["id"], "accept", action_body("accept"), **department)
    assert taken.status_code == 200
    assert taken.json()["allowed_actions"] == ["reply", "request_extension"]
    replied = await act(client, case["id"], "reply", action_body("reply"), **department)
    assert replied.status_code == 200 and replied.json()["handling_unit_id"] == HOUSING


async def test_allowed_actions_are_those_of_the_caller_and_a_refusal_names_them(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    case = await create(client, petition())
    operator = auth.headers("operator", subject="registry")
    handler = auth.headers("handler", org_unit=HOUSING, subject="zjj-handler")
    as_operator = (await client.get(f"/v1/cases/{case['id']}", headers=operator)).json()
    assert as_operator["allowed_actions"] == ["dispatch", "decline"]
    as_handler = (await client.get(f"/v1/cases/{case['id']}", headers=handler)).json()
    assert as_handler["allowed_actions"] == []  # the registry's steps are not the unit's
    early = await act(client, case["id"], "close", {}, **operator)
    assert early.status_code == 409
    assert early.json()["allowed_actions"] == ["dispatch", "decline"]


async def _final_matter(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 信访 case concluded by 复核, and its petitioner."""
    original = await case_in(client, "closed", petition(handling_unit_id="610203001001"))
    review_id = (
        (await act(client, original["id"], "request_review")).headers["location"].rsplit("/")[-1]
    )
    for step in ["accept", "reply", "rate", "close"]:
        assert (await act(client, review_id, step)).status_code == 200, step
    re_review_id = (
        (await act(client, review_id, "request_review")).headers["location"].rsplit("/")[-1]
    )
    for step in ["accept", "reply", "rate", "close"]:
        assert (await act(client, re_review_id, step)).status_code == 200, step
    assert (await client.get(f"/v1/cases/{original['id']}")).json()["final"] is True
    petitioner = (await client.get(f"/v1/cases/{original['id']}/petitioner")).json()
    del petitioner["masked"]
    return original, petitioner


async def test_the_third_and_fourth_filings_of_a_matter_concluded_by_re_review_are_declined_art36(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    _, petitioner = await _final_matter(client)
    operator = auth.headers("operator", subject="registry")

    filings = []
    for number in (2, 3, 4):
        filing = await create(client, petition(petitioner=petitioner))
        assert filing["first_time"] is False and filing["repeat_of"] is not None
        refused = await act(client, filing["id"], "dispatch", {}, **operator)
        assert refused.status_code == 409, (number, refused.text)
        assert "复核" in refused.json()["detail"]
        declined = await act(client, filing["id"], "decline", action_body("decline"), **operator)
        assert declined.status_code == 200
        filings.append(filing)
    # The later filings link to the newest alike (an earlier declined filing, itself not
    # final): the rule holds because it follows the chain to the concluded matter.
    linked = (await client.get(f"/v1/cases/{filings[2]['repeat_of']}")).json()
    assert linked["final"] is False


async def test_an_earlier_12345_call_does_not_make_a_petition_a_repeat(
    client: httpx.AsyncClient,
) -> None:
    # The same person, the same words, the same category: only the kind differs.
    text = {
        "subject": "小区供暖温度不达标",
        "description": "城关街道某小区连续一周室温低于18度。",
        "category_code": "HEATING",
    }
    phone = petition()["petitioner"]["phone"]  # a phone no other test uses
    call = await create(client, hotline(**text, petitioner={"name": "王五", "phone": phone}))
    assert call["first_time"] is True
    letter = await create(client, petition(**text, petitioner={"name": "王五", "phone": phone}))
    assert letter["repeat_of"] is None and letter["first_time"] is True  # 初信初访
    again = await create(client, petition(**text, petitioner={"name": "王五", "phone": phone}))
    assert again["repeat_of"] == letter["id"]  # a 信访 case repeats a 信访 case


def test_a_generic_subject_against_another_employer_is_not_the_same_matter() -> None:
    threshold = 60.0  # PETITIONS_REPEAT_SIMILARITY's default
    first = ("拖欠工资", "宏达建筑公司拖欠我三个月工资共计一万二千元")
    other_employer = ("拖欠工资", "美味餐饮店老板拖欠两个月工资，至今不给")
    same_employer = ("拖欠工资", "宏达建筑公司三个月工资一万二还没给，再次反映")
    assert repeats.similarity(*first, *other_employer) < threshold
    assert repeats.similarity(*first, *same_employer) >= threshold
    # A subject with no description of its own is not "contained" in a longer matter.
    assert repeats.similarity("拖欠工资", "", *other_employer) < threshold


async def _repeat_events(app: FastAPI, case_id: str) -> list[dict[str, Any]]:
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.message_key == case_id,
                    OutboxMessage.event_type == REPEAT_CHANGED,
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [orjson.loads(r.payload) for r in rows]


async def test_every_repeat_decision_is_published_with_the_first_time_it_leads_to(
    client: httpx.AsyncClient, app: FastAPI, auth: SessionAuth
) -> None:
    operator = auth.headers("operator", subject="registry")
    first = await create(client, petition())
    phone = (await client.get(f"/v1/cases/{first['id']}/petitioner")).json()["phone"]
    body = petition()
    body["petitioner"]["phone"] = phone
    second = await create(client, body)
    assert second["repeat_of"] == first["id"]

    path = f"/v1/cases/{second['id']}/repeat"
    assert (await client.post(path + "/confirm", headers=operator)).status_code == 200
    assert (await client.delete(path, headers=operator)).status_code == 200
    linked = await client.post(path, json={"repeat_of": first["id"]}, headers=operator)
    assert linked.status_code == 200

    events = await _repeat_events(app, second["id"])
    data = events  # the payload is the event's data (attributes travel in Kafka headers)
    assert [(d["change"], d["first_time"], d["repeat_of"]) for d in data] == [
        ("confirmed", False, first["id"]),
        ("unlinked", True, None),
        ("linked", False, first["id"]),
    ]
    assert data[1]["was_repeat_of"] == first["id"]
    assert {d["actor"] for d in data} == {"registry"}
