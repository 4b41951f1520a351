"""Registering and reading cases: the first slice of the petitions API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from gov_common.clock import today_in_china
from petitions_api.cases.models import Case
from petitions_api.cases.registration import format_case_number
from petitions_api.db import OutboxMessage

pytestmark = pytest.mark.integration

VALID = {
    "kind": "petition_case",
    "channel": "letter",
    "subject": "小区供暖温度不达标",
    "description": "王家河街道某小区连续一周室温低于18度。",
    "received_on": "2026-11-20",
    "petitioner": {"name": "张三", "phone": "13800000001"},
}


def test_case_numbers_show_kind_and_year() -> None:
    assert format_case_number("petition_case", date(2026, 1, 5), 42) == "XF2026-00000042"
    assert format_case_number("hotline_ticket", date(2025, 12, 31), 7) == "RX2025-00000007"


async def _counts(app: FastAPI) -> tuple[int, int]:
    async with app.state.sessions() as session:
        cases = await session.scalar(select(func.count()).select_from(Case))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
    return cases or 0, outbox or 0


async def test_a_registered_case_can_be_read_and_its_event_waits_in_the_outbox(
    client: httpx.AsyncClient, app: FastAPI, topic_prefix: str
) -> None:
    response = await client.post("/v1/cases", json=VALID)

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["case_number"].startswith("XF2026-")
    assert case["status"] == "registered"
    # the registry forwards or declines it (第二十二条); the unit accepts only once it is forwarded
    assert case["allowed_actions"] == ["dispatch", "decline", "supervise"]
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/cases/{case['id']}"
    read = await client.get(response.headers["location"])
    assert read.status_code == 200
    assert read.json() == case

    async with app.state.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.message_key == case["id"])
        )
    assert row is not None and row.sent_at is None
    assert row.topic == topic_prefix + "petitions.case-events"
    assert row.event_type == "gov.petitions.case.created.v1"
    headers = dict(row.headers)
    assert headers["ce_subject"] == case["id"]
    payload = orjson.loads(row.payload)
    assert payload["case_number"] == case["case_number"]
    assert "description" not in payload  # events carry only what consumers need
    assert "张三" not in row.payload.decode() and "13800000001" not in row.payload.decode()


async def test_received_on_defaults_to_today_in_china(client: httpx.AsyncClient) -> None:
    body = {k: v for k, v in VALID.items() if k != "received_on"}
    response = await client.post("/v1/cases", json=body)
    assert response.status_code == 201
    assert response.json()["received_on"] == today_in_china().isoformat()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"subject": None}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "长" * 201}, "subject"),
        ({"kind": "complaint"}, "kind"),
        ({"channel": "carrier pigeon"}, "channel"),
        ({"received_on": (today_in_china() + timedelta(days=2)).isoformat()}, "received_on"),
        ({"received_on": "2026-02-30"}, "received_on"),
        ({"petitioner_ssn": "x"}, "petitioner_ssn"),
    ],
)
async def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    before = await _counts(app)

    response = await client.post("/v1/cases", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert field in [p["name"] for p in problem["invalid_params"]]
    assert field in problem["detail"]
    assert await _counts(app) == before


async def test_a_body_that_is_not_json_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    before = await _counts(app)
    response = await client.post(
        "/v1/cases", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert await _counts(app) == before


async def test_an_unknown_case_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["detail"].endswith("does not exist")
    assert (await client.get("/v1/cases/not-a-uuid")).status_code == 422


async def test_a_nul_character_is_a_422_that_says_so_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    before = await _counts(app)
    response = await client.post("/v1/cases", json={**VALID, "subject": "供暖\u0000不达标"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "U+0000" in response.json()["detail"]
    assert await _counts(app) == before
