"""Intake: the full field set, Idempotency-Key, first-time or repeat, personal data kept apart."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from gov_common.db import unit_of_work
from petitions_api.cases.models import Case, IdempotencyKey, Petitioner
from petitions_api.cases.schemas import CaseCreate
from petitions_api.db import OutboxMessage

from .helpers import create, hotline, petition

pytestmark = pytest.mark.integration


async def _counts(app: FastAPI) -> tuple[int, int, int]:
    async with app.state.sessions() as session:
        return tuple(  # type: ignore[return-value]
            [
                await session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Case, Petitioner, OutboxMessage)
            ]
        )


async def test_the_full_field_set_is_stored_and_personal_data_stays_apart(
    client: httpx.AsyncClient,
) -> None:
    body = petition(
        channel="visit",
        urgent=True,
        group_size=6,
        received_on="2026-11-02",
        place={
            "unit_id": "610203002001",
            "address": "三里洞某路",
            "latitude": 35.11,
            "longitude": 109.1,
        },
        attachments=[
            {"file_name": "信件.pdf", "content_type": "application/pdf", "size_bytes": 1024}
        ],
    )
    body["petitioner"]["id_number"] = "11010519491231002X"
    case = await create(client, body)
    assert case["group_size"] == 6 and case["urgent"] is True
    assert case["received_on"] == "2026-11-02"
    assert case["place_unit_id"] == "610203002001" and case["town_unit_id"] == "610203002"
    assert case["latitude"] == 35.11 and case["attachments"][0]["file_name"] == "信件.pdf"
    assert "petitioner" not in case and "李四" not in str(case)
    person = (await client.get(f"/v1/cases/{case['id']}/petitioner")).json()
    assert person["name"] == "李四" and person["id_number"] == "11010519491231002X"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category_code": "NOPE"}, "category_code"),
        ({"place": {"unit_id": "999"}}, "place.unit_id"),
        ({"petitioner": None}, "petitioner"),
        (
            {"petitioner": {"name": "王五", "id_number": "110105194912310021"}},
            "petitioner.id_number",
        ),
        ({"petitioner": {"name": "王五", "phone": "call me"}}, "petitioner.phone"),
        ({"place": {"latitude": 35.1}}, "place"),
        ({"group_size": 0}, "group_size"),
    ],
)
async def test_bad_input_names_the_field_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, change: dict[str, object], field: str
) -> None:
    before = await _counts(app)
    response = await client.post("/v1/cases", json=petition(**change))
    assert response.status_code == 422, response.text
    assert field in [p["name"] for p in response.json()["invalid_params"]]
    assert await _counts(app) == before


async def test_the_same_idempotency_key_and_body_give_the_same_answer_and_one_case(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = hotline(subject="同一通电话")
    headers = {"Idempotency-Key": "call-20261128-0001"}
    first = await client.post("/v1/cases", json=body, headers=headers)
    before = await _counts(app)
    second = await client.post("/v1/cases", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await _counts(app) == before

    different = await client.post("/v1/cases", json=hotline(subject="另一件事"), headers=headers)
    assert different.status_code == 422
    assert different.json()["type"].endswith("/idempotency-key-reused")
    assert await _counts(app) == before


async def test_the_stored_digest_is_keyed_and_a_key_stored_before_still_replays(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Bodies hold names, phones and ID numbers: the stored digest is an HMAC under the
    service's key, not a hash anyone can match by guessing (gov_common.idempotency); a key
    claimed under the former plain SHA-256 still replays its answer (migration 0009)."""
    body = petition(subject="摘要加密")
    key = f"keyed-{uuid.uuid4().hex[:8]}"
    first = await client.post("/v1/cases", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    parsed = CaseCreate.model_validate(body)
    plain = hashlib.sha256(
        orjson.dumps(parsed.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    async with app.state.sessions() as session:
        row = (await session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key))).one()
        assert row.request_hash != plain
        assert row.response_location == f"/v1/cases/{first.json()['id']}"
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(IdempotencyKey).where(IdempotencyKey.key == key).values(request_hash=plain)
        )
    before = await _counts(app)
    again = await client.post("/v1/cases", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert await _counts(app) == before


async def test_a_failed_request_does_not_use_up_its_key(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "retry-after-fix"}
    bad = await client.post("/v1/cases", json=hotline(category_code="NOPE"), headers=headers)
    assert bad.status_code == 422
    good = await client.post(
        "/v1/cases",
        json=hotline(category_code="NOPE") | {"category_code": "OTHER"},
        headers=headers,
    )
    assert good.status_code == 201


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "idempotency-key"])
async def test_a_repeat_of_the_same_petitioner_and_matter_is_linked(
    client: httpx.AsyncClient, keyed: bool
) -> None:
    # With a key, the earlier cases are read by the claim's statement: the same answers.
    keys = itertools.count()

    async def register(body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Idempotency-Key": f"repeat-{next(keys)}"} if keyed else {}
        return await create(client, body, **headers)

    first = await register(petition())
    phone = first and (await client.get(f"/v1/cases/{first['id']}/petitioner")).json()["phone"]
    # The same facts restated in other words (the subject alone would not do: see
    # test_repeats.py, a generic subject is not a matter).
    again = petition(
        subject="供暖温度不达标",
        description="城关街道某小区室温连续一周低于18度，再次反映",
        channel="visit",
    )
    again["petitioner"]["phone"] = "+86 " + phone
    second = await register(again)
    assert second["repeat_of"] == first["id"] and second["first_time"] is False
    assert second["repeat_confirmed"] is False

    other_matter = petition(
        subject="占道经营", description="小区门口长期占道经营", category_code="CITY-MANAGEMENT"
    )
    other_matter["petitioner"]["phone"] = phone
    third = await register(other_matter)
    assert third["repeat_of"] is None and third["first_time"] is True

    stranger = await register(petition())  # same text, another person
    assert stranger["repeat_of"] is None


async def test_operators_confirm_unlink_and_link_repeats(client: httpx.AsyncClient) -> None:
    first = await create(client, petition())
    phone = (await client.get(f"/v1/cases/{first['id']}/petitioner")).json()["phone"]
    body = petition()
    body["petitioner"]["phone"] = phone
    second = await create(client, body)
    assert second["repeat_of"] == first["id"]

    confirmed = await client.post(f"/v1/cases/{second['id']}/repeat/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["repeat_confirmed"] is True
    unlinked = await client.delete(f"/v1/cases/{second['id']}/repeat")
    assert unlinked.status_code == 200
    assert unlinked.json()["first_time"] is True and unlinked.json()["repeat_of"] is None
    assert (await client.delete(f"/v1/cases/{second['id']}/repeat")).status_code == 409

    linked = await client.post(f"/v1/cases/{second['id']}/repeat", json={"repeat_of": first["id"]})
    assert linked.status_code == 200 and linked.json()["repeat_confirmed"] is True
    backwards = await client.post(
        f"/v1/cases/{first['id']}/repeat", json={"repeat_of": second["id"]}
    )
    assert backwards.status_code == 422
    timeline = (await client.get(f"/v1/cases/{second['id']}/timeline")).json()
    assert [e["action"] for e in timeline] == [
        "register",
        "repeat_confirmed",
        "repeat_unlinked",
        "repeat_linked",
    ]


@pytest.mark.parametrize("kind", ["hotline", "petition"])
async def test_the_answer_to_a_registration_is_the_case_as_stored(
    client: httpx.AsyncClient, kind: str
) -> None:
    # The answer is built from the request's own values (not read back): it must say exactly
    # what a later read of the case says, its first clock and its creation instant included.
    body = hotline(urgent=True) if kind == "hotline" else petition()
    created = await client.post("/v1/cases", json=body, headers={"Idempotency-Key": kind})
    assert created.status_code == 201, created.text
    stored = await client.get(f"/v1/cases/{created.json()['id']}")
    assert stored.json() == created.json()
    assert created.headers["etag"] == stored.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/cases/{created.json()['id']}"
    assert len(created.json()["deadlines"]) == 1
    timeline = (await client.get(f"/v1/cases/{created.json()['id']}/timeline")).json()
    assert [entry["action"] for entry in timeline] == ["register"]
