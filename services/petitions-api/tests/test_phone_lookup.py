"""Repeat-caller lookup: an operator finds a caller's earlier cases by phone before saving."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gov_common.testing import TestAuth

from .helpers import create, hotline, petition

pytestmark = pytest.mark.integration


async def test_earlier_cases_of_a_phone_are_found_in_any_notation_and_the_lookup_is_audited(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: TestAuth
) -> None:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    body = petition()
    body["petitioner"]["phone"] = phone
    earlier = await create(client, body)
    other = await create(client, petition())  # somebody else
    ticket = await create(client, hotline(petitioner={"name": "王五", "phone": phone}))

    dotted = f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
    found = await bare.get(
        "/v1/cases", params={"phone": dotted}, headers=auth.headers("operator", subject="op-9")
    )
    assert found.status_code == 200, found.text
    ids = [c["id"] for c in found.json()["items"]]
    assert sorted(ids) == sorted([earlier["id"], ticket["id"]])
    assert other["id"] not in ids
    assert phone not in found.text  # the list itself shows no personal data

    log = await client.get("/v1/audit/personal-data-access", params={"actor": "op-9"})
    [entry] = log.json()["items"]
    assert (entry["action"], entry["resource_type"], entry["fields"]) == (
        "search",
        "case-search",
        ["phone"],
    )
    assert phone not in log.text


async def test_roles_that_may_not_read_personal_data_cannot_look_up_a_phone(
    bare: httpx.AsyncClient, auth: TestAuth
) -> None:
    response = await bare.get(
        "/v1/cases", params={"phone": "13912345678"}, headers=auth.headers("system_client")
    )
    assert response.status_code == 403
    bad = await bare.get("/v1/cases", params={"phone": "call me"}, headers=auth.headers("operator"))
    assert bad.status_code == 422 and bad.json()["invalid_params"][0]["name"] == "phone"
