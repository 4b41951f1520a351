"""Listing, filtering and searching cases with cursor pagination."""

from __future__ import annotations

import uuid

import httpx
import pytest

from .helpers import act, case_in, create, hotline, petition

pytestmark = pytest.mark.integration


async def test_filters_and_cursor_pagination(client: httpx.AsyncClient) -> None:
    marker = uuid.uuid4().hex[:8]  # other tests share the database: search our own cases only
    made = [await create(client, hotline(subject=f"路灯{marker}-{i}")) for i in range(5)]

    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": marker, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/cases", params=params)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in reversed(made)]  # newest first, each once

    in_town = await client.get("/v1/cases", params={"q": marker, "unit": "610203100"})
    assert len(in_town.json()["items"]) == 5  # handled by 陈炉镇 (the subtree's root)
    elsewhere = await client.get("/v1/cases", params={"q": marker, "unit": "610203001"})
    assert elsewhere.json()["items"] == []
    by_place = await client.get("/v1/cases", params={"q": marker, "place_unit": "610203"})
    assert len(by_place.json()["items"]) == 5


async def test_status_first_time_category_and_dates(client: httpx.AsyncClient) -> None:
    marker = uuid.uuid4().hex[:8]
    dispatched = await case_in(client, "dispatched", petition(subject=f"供暖{marker}"))
    registered = await create(client, petition(subject=f"供暖{marker}", received_on="2026-01-05"))
    ids = lambda r: {c["id"] for c in r.json()["items"]}  # noqa: E731

    by_status = await client.get("/v1/cases", params={"q": marker, "status": "dispatched"})
    assert ids(by_status) == {dispatched["id"]}
    both = await client.get(
        "/v1/cases", params=[("q", marker), ("status", "dispatched"), ("status", "registered")]
    )
    assert ids(both) == {dispatched["id"], registered["id"]}
    early = await client.get("/v1/cases", params={"q": marker, "received_to": "2026-01-31"})
    assert ids(early) == {registered["id"]}
    heating = await client.get(
        "/v1/cases", params={"q": marker, "category": "HEATING", "first_time": True}
    )
    assert ids(heating) == {dispatched["id"], registered["id"]}
    # A letter received on 5 Jan had to be forwarded by 20 Jan (第二十二条): its clock is past due;
    # the dispatched one was forwarded today and its unit's 15 days to accept have just begun.
    overdue = await client.get("/v1/cases", params={"q": marker, "overdue": True})
    assert ids(overdue) == {registered["id"]}
    not_overdue = await client.get("/v1/cases", params={"q": marker, "overdue": False})
    assert ids(not_overdue) == {dispatched["id"]}
    assert (await act(client, dispatched["id"], "accept")).status_code == 200


async def test_bad_query_parameters_are_problems(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/cases", params={"status": "lost"})).status_code == 422
    assert (await client.get("/v1/cases", params={"cursor": "garbage"})).status_code == 400
    unknown = await client.get("/v1/cases", params={"unit": "NOPE"})
    assert unknown.status_code == 422 and "unit" in unknown.json()["detail"]
    assert (await client.get("/v1/cases", params={"limit": 0})).status_code == 422


async def test_reference_data_is_served(client: httpx.AsyncClient) -> None:
    towns = (await client.get("/v1/org-units", params={"under": "610203"})).json()
    names = {u["name"] for u in towns if u["level"] == "town"}
    assert {"城关街道", "陈炉镇", "三里洞街道"} <= names and len(names) == 10
    assert all(u["grassroots"] for u in towns if u["level"] in ("town", "village"))
    categories = (await client.get("/v1/categories")).json()
    assert {"HEATING", "GAS-LEAK"} <= {c["code"] for c in categories}
    versions = (await client.get("/v1/reference-versions")).json()
    assert {v["dataset"]: v["version"] for v in versions} == {
        "org_units": "yintai-2026.1",
        "categories": "yintai-2026.1",
    }
