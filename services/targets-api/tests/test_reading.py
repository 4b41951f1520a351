"""Reading the plan: filters, cursor pagination, the dashboard, CSV and XLSX exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from gov_common.clock import today_in_china
from gov_common.testing import TestAuth as SessionAuth

pytestmark = pytest.mark.integration

YEAR = today_in_china().year


async def _catalogue(
    client: httpx.AsyncClient, plan_code: str, auth: SessionAuth
) -> dict[str, Any]:
    plan = (
        await client.post("/v1/plans", json={"code": plan_code, "name_zh": "计划", "year": YEAR})
    ).json()
    items = [
        {
            "code": "A",
            "kind": "at_least",
            "target": 10,
            "category": "employment",
            "lead_department": "hrss",
            "livelihood_project": True,
            "livelihood_number": 1,
        },
        {
            "code": "B",
            "kind": "at_least",
            "target": 20,
            "category": "employment",
            "lead_department": "hrss",
            "livelihood_project": True,
            "livelihood_number": 1,
        },
        {
            "code": "C",
            "kind": "at_most",
            "target": 4,
            "unit": "percent",
            "category": "employment",
            "lead_department": "hrss",
        },
        {
            "code": "D",
            "kind": "milestone",
            "category": "culture",
            "lead_department": "culture",
            "co_departments": ["hrss"],
            "livelihood_project": True,
            "livelihood_number": 6,
        },
        {
            "code": "E",
            "kind": "at_least",
            "target": 5,
            "category": "culture",
            "lead_department": "culture",
        },
    ]
    for item in items:
        response = await client.post(
            f"/v1/plans/{plan_code}/indicators", json={"name_zh": f"指标{item['code']}", **item}
        )
        assert response.status_code == 201, response.text
    ids = {
        i["code"]: i["id"]
        for i in (await client.get("/v1/indicators", params={"plan_id": plan["id"]})).json()[
            "items"
        ]
    }
    reports = [("A", {"value": 10}, "hrss"), ("D", {"done": True}, "culture")]
    for code, report, department in reports:
        response = await client.post(
            f"/v1/indicators/{ids[code]}/reports",
            json=report,
            headers=auth.headers("handler", org_unit=department),
        )
        assert response.status_code == 201, response.text
    return {"plan": plan, "ids": ids}


async def _codes(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [i["code"] for i in (await client.get("/v1/indicators", params=params)).json()["items"]]


async def test_filters(client: httpx.AsyncClient, plan_code: str, auth: SessionAuth) -> None:
    plan_id = (await _catalogue(client, plan_code, auth))["plan"]["id"]
    assert await _codes(client, plan_id=plan_id) == ["A", "B", "C", "D", "E"]
    assert await _codes(client, plan_id=plan_id, category="culture") == ["D", "E"]
    assert await _codes(client, plan_id=plan_id, department="hrss") == ["A", "B", "C", "D"]
    assert await _codes(client, plan_id=plan_id, status="achieved") == ["A", "D"]
    assert await _codes(client, plan_id=plan_id, livelihood_project="true") == ["A", "B", "D"]
    assert await _codes(client, plan_id=plan_id, livelihood_project="false") == ["C", "E"]
    bad = await client.get("/v1/indicators", params={"status": "fine"})
    assert bad.status_code == 422 and bad.json()["invalid_params"][0]["name"] == "status"


async def test_cursor_pagination_walks_every_indicator_once(
    client: httpx.AsyncClient, plan_code: str, auth: SessionAuth
) -> None:
    plan_id = (await _catalogue(client, plan_code, auth))["plan"]["id"]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"plan_id": plan_id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/indicators", params=params)).json()
        seen += [i["code"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["A", "B", "C", "D", "E"]
    bad = await client.get("/v1/indicators", params={"cursor": "garbage"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


async def test_dashboard_counts_by_status_and_department_and_the_livelihood_projects(
    client: httpx.AsyncClient, plan_code: str, auth: SessionAuth
) -> None:
    await _catalogue(client, plan_code, auth)
    board = (await client.get(f"/v1/plans/{plan_code}/dashboard")).json()
    assert board["total"] == 5
    assert board["by_status"]["achieved"] == 2 and board["by_status"]["not_started"] == 3
    departments = {d["department"]: d for d in board["by_department"]}
    assert departments["hrss"]["total"] == 3 and departments["hrss"]["by_status"]["achieved"] == 1
    assert departments["culture"]["total"] == 2
    projects = {p["number"]: p for p in board["livelihood_projects"]}
    assert (projects[1]["indicators"], projects[1]["achieved"]) == (2, 1)
    assert (projects[6]["indicators"], projects[6]["achieved"]) == (1, 1)
    missing = await client.get("/v1/plans/nope/dashboard")
    assert missing.status_code == 404 and "plan nope does not exist" in missing.json()["detail"]


async def test_exports_as_csv_and_xlsx(
    client: httpx.AsyncClient, plan_code: str, auth: SessionAuth
) -> None:
    await _catalogue(client, plan_code, auth)
    response = await client.get(f"/v1/plans/{plan_code}/export", params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["code"] for r in rows] == ["A", "B", "C", "D", "E"]
    assert rows[0]["name_zh"] == "指标A" and rows[0]["status"] == "achieved"
    assert rows[0]["value"] == "10.0000" and rows[0]["target"] == "10.0000"

    response = await client.get(f"/v1/plans/{plan_code}/export", params={"format": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "code" and [v[0] for v in values[1:]] == ["A", "B", "C", "D", "E"]
    bad = await client.get(f"/v1/plans/{plan_code}/export", params={"format": "pdf"})
    assert bad.status_code == 422
