"""Plans, indicators, progress reports, approval, status events and reminders over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from gov_common.clock import today_in_china
from gov_common.events.envelope import CloudEvent
from gov_common.events.registry import parse_payload
from targets_api.config import Settings
from targets_api.db import OutboxMessage
from targets_api.indicators.models import Indicator, Plan
from targets_api.progress import service as progress
from targets_api.progress.models import ProgressReport

pytestmark = pytest.mark.integration

Department = Callable[[str], dict[str, str]]  # the department fixture: code → headers

TODAY = today_in_china()
YEAR = TODAY.year


async def _plan(client: httpx.AsyncClient, code: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/plans", json={"code": code, "name_zh": f"{YEAR}年计划", "year": YEAR, **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _indicator(client: httpx.AsyncClient, plan: str, **fields: Any) -> dict[str, Any]:
    body = {
        "code": "I-1",
        "name_zh": "新增学位",
        "kind": "at_least",
        "target": 500,
        "unit": "school_places",
        "lead_department": "edu",
        **fields,
    }
    response = await client.post(f"/v1/plans/{plan}/indicators", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _events(app: FastAPI, indicator_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.message_key == indicator_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    found = []
    for row in rows:
        headers = dict(row.headers)
        event = CloudEvent(
            id=headers["ce_id"],
            source=headers["ce_source"],
            type=row.event_type,
            time=headers["ce_time"],
            data=orjson.loads(row.payload),
        )
        parse_payload(event)  # every event matches its registered contract
        found.append((row.event_type.split(".")[-2], event.data))
    return found


async def test_a_plan_holds_indicators_with_milestones_and_departments(
    client: httpx.AsyncClient, plan_code: str
) -> None:
    plan = await _plan(client, plan_code)
    assert (plan["period_start"], plan["period_end"]) == (f"{YEAR}-01-01", f"{YEAR}-12-31")
    created = await _indicator(
        client,
        plan_code,
        code="LP03-1",
        kind="milestone",
        target=None,
        unit=None,
        due_date=f"{YEAR}-09-01",
        co_departments=["town-a"],
        livelihood_project=True,
        livelihood_number=3,
        milestones=[
            {"code": "move", "name_zh": "回迁", "due_date": f"{YEAR}-08-25"},
            {"code": "open", "name_zh": "开学"},
        ],
    )
    read = (await client.get(f"/v1/indicators/{created['id']}")).json()
    assert read["co_departments"] == ["town-a"] and read["livelihood_number"] == 3
    assert [m["code"] for m in read["milestones"]] == ["move", "open"]
    assert read["period_end"] == f"{YEAR}-12-31" and read["due_date"] == f"{YEAR}-09-01"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "sometimes"}, "kind"),
        ({"kind": "at_least", "target": None}, "body"),  # a count needs a target
        ({"kind": "milestone", "target": 3}, "body"),
        ({"code": "has space"}, "code"),
        ({"livelihood_number": 11, "livelihood_project": True}, "livelihood_number"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_indicators_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient, app: FastAPI, plan_code: str, body: dict[str, Any], field: str
) -> None:
    plan = await _plan(client, plan_code)
    base = {"code": "X-1", "name_zh": "甲", "kind": "at_least", "target": 1}
    response = await client.post(f"/v1/plans/{plan_code}/indicators", json={**base, **body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(p["name"].startswith(field) for p in problem["invalid_params"]), problem
    async with app.state.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Indicator).where(Indicator.plan_id == plan["id"])
        )
    assert count == 0


async def test_conflicts_and_unknowns_say_what_to_fix(
    client: httpx.AsyncClient, plan_code: str
) -> None:
    await _plan(client, plan_code)
    again = await client.post("/v1/plans", json={"code": plan_code, "name_zh": "x", "year": YEAR})
    assert again.status_code == 409 and plan_code in again.json()["detail"]
    await _indicator(client, plan_code)
    twice = await client.post(
        f"/v1/plans/{plan_code}/indicators",
        json={"code": "I-1", "name_zh": "x", "kind": "at_least", "target": 1},
    )
    assert twice.status_code == 409 and "I-1" in twice.json()["detail"]
    missing = await client.get(f"/v1/indicators/{uuid.uuid4()}")
    assert missing.status_code == 404
    live = await client.post(
        f"/v1/plans/{plan_code}/indicators",
        json={
            "code": "L",
            "name_zh": "x",
            "kind": "percentage",
            "target": 80,
            "live_source": "weather",
        },
    )
    assert live.status_code == 422 and "unknown live_source 'weather'" in live.json()["detail"]


async def test_progress_history_corrections_and_status_events(
    client: httpx.AsyncClient, app: FastAPI, plan_code: str, department: Department
) -> None:
    await _plan(client, plan_code)
    indicator = await _indicator(client, plan_code, target=10)
    url = f"/v1/indicators/{indicator['id']}/reports"

    first = await client.post(
        url,
        json={"value": 4, "note": "一季度", "evidence": ["https://example.gov/a.pdf"]},
        headers=department("edu"),
    )
    assert first.status_code == 201, first.text
    assert first.json()["state"] == "recorded"
    # Who reported comes from the token: its org unit and subject.
    assert (first.json()["department"], first.json()["reported_by"]) == ("edu", "clerk@edu")
    # The correction supersedes the first report, which is kept unchanged in the history.
    correction = await client.post(
        url, json={"value": 10, "supersedes": first.json()["id"]}, headers=department("edu")
    )
    assert correction.status_code == 201, correction.text

    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()
    assert read["status"] == "achieved"
    assert read["progress"]["value"] == "10.0000"
    history = read["history"]
    assert [h["value"] for h in history] == ["10.0000", "4.0000"]
    assert history[1]["note"] == "一季度"
    assert history[1]["evidence"] == ["https://example.gov/a.pdf"]
    assert history[0]["supersedes_id"] == first.json()["id"]

    # A report can be corrected once; the correction of a correction goes on the newest.
    again = await client.post(
        url, json={"value": 9, "supersedes": first.json()["id"]}, headers=department("edu")
    )
    assert again.status_code == 409 and correction.json()["id"] in again.json()["detail"]

    kinds = [(kind, data.get("to_status")) for kind, data in await _events(app, indicator["id"])]
    assert ("progress_reported", None) in kinds
    assert ("status_changed", "achieved") in kinds
    assert ("achieved", None) in kinds
    assert kinds.count(("achieved", None)) == 1


@pytest.mark.parametrize(
    ("body", "reporter", "status", "says"),
    [
        ({}, "edu", 422, "needs a value"),
        ({"value": 1, "done": True}, "edu", 422, "milestone indicators only"),
        ({"value": 1}, "finance", 403, "responsible: edu"),
        ({"value": 1, "as_of": "2999-01-01"}, "edu", 422, "in the future"),
        ({"value": 1, "evidence": ["not a url"]}, "edu", 422, "evidence"),
        ({"value": 1, "supersedes": str(uuid.UUID(int=1))}, "edu", 422, "supersedes"),
        # The department is the caller's; the body can no longer name one.
        ({"value": 1, "department": "edu"}, "finance", 422, "department"),
    ],
)
async def test_bad_reports_are_refused_and_nothing_is_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    plan_code: str,
    department: Department,
    body: dict[str, Any],
    reporter: str,
    status: int,
    says: str,
) -> None:
    await _plan(client, plan_code)
    indicator = await _indicator(client, plan_code)
    response = await client.post(
        f"/v1/indicators/{indicator['id']}/reports", json=body, headers=department(reporter)
    )
    assert response.status_code == status, response.text
    assert says in response.text
    async with app.state.sessions() as session:
        reports = await session.scalar(
            select(func.count())
            .select_from(ProgressReport)
            .where(ProgressReport.indicator_id == indicator["id"])
        )
    assert reports == 0
    assert [k for k, _ in await _events(app, indicator["id"])] == []


async def test_milestone_reports_name_their_sub_milestones(
    client: httpx.AsyncClient, plan_code: str, department: Department
) -> None:
    await _plan(client, plan_code)
    indicator = await _indicator(
        client,
        plan_code,
        kind="milestone",
        target=None,
        milestones=[{"code": "a", "name_zh": "甲"}, {"code": "b", "name_zh": "乙"}],
    )
    url = f"/v1/indicators/{indicator['id']}/reports"
    edu = department("edu")
    unknown = await client.post(url, json={"milestones_done": ["c"]}, headers=edu)
    assert unknown.status_code == 422 and "unknown milestone code(s) c" in unknown.text
    assert (await client.post(url, json={"milestones_done": ["a"]}, headers=edu)).status_code == 201
    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()
    assert [m["done"] for m in read["milestones"]] == [True, False]
    assert read["status"] == "on_track"
    await client.post(url, json={"milestones_done": ["a", "b"]}, headers=edu)
    assert (await client.get(f"/v1/indicators/{indicator['id']}")).json()["status"] == "achieved"


async def test_with_approval_a_report_counts_only_once_approved(
    client: httpx.AsyncClient, app: FastAPI, plan_code: str, department: Department
) -> None:
    await _plan(client, plan_code, requires_approval=True)
    indicator = await _indicator(client, plan_code, target=10)
    url = f"/v1/indicators/{indicator['id']}/reports"
    submitted = (await client.post(url, json={"value": 10}, headers=department("edu"))).json()
    assert submitted["state"] == "submitted"
    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()
    assert read["status"] == "not_started" and read["progress"]["value"] is None

    # A department cannot review reports, not even its own.
    own = await client.post(
        f"/v1/reports/{submitted['id']}/approval", json={}, headers=department("edu")
    )
    assert own.status_code == 403
    returned = await client.post(f"/v1/reports/{submitted['id']}/return", json={"note": "缺佐证"})
    assert returned.json()["state"] == "returned"
    assert returned.json()["reviewed_by"] == "planner@fgj"
    twice = await client.post(f"/v1/reports/{submitted['id']}/approval", json={})
    assert twice.status_code == 409 and "only submitted reports" in twice.json()["detail"]

    corrected = (
        await client.post(
            url,
            json={
                "value": 10,
                "evidence": ["https://example.gov/b.pdf"],
                "supersedes": submitted["id"],
            },
            headers=department("edu"),
        )
    ).json()
    approved = await client.post(f"/v1/reports/{corrected['id']}/approval")  # no note: no body
    assert approved.status_code == 200 and approved.json()["reviewed_by"] == "planner@fgj"
    read = (await client.get(f"/v1/indicators/{indicator['id']}")).json()
    assert read["status"] == "achieved" and read["progress"]["value"] == "10.0000"
    states = [
        d.get("state") for k, d in await _events(app, indicator["id"]) if k == "progress_reported"
    ]
    assert states == ["submitted", "returned", "submitted", "approved"]


async def test_copying_a_plan_starts_a_new_year_from_its_catalogue(
    client: httpx.AsyncClient, plan_code: str, department: Department
) -> None:
    await _plan(client, plan_code, name_zh=f"{YEAR}年政府工作报告")
    source = await _indicator(
        client,
        plan_code,
        kind="milestone",
        target=None,
        due_date=f"{YEAR}-09-01",
        milestones=[{"code": "a", "name_zh": "甲", "due_date": f"{YEAR}-06-30"}],
    )
    await client.post(
        f"/v1/indicators/{source['id']}/reports", json={"done": True}, headers=department("edu")
    )
    copy = await client.post(
        f"/v1/plans/{plan_code}/copies", json={"code": plan_code + "-next", "year": YEAR + 1}
    )
    assert copy.status_code == 201, copy.text
    new = copy.json()
    assert (
        new["name_zh"] == f"{YEAR + 1}年政府工作报告" and new["period_start"] == f"{YEAR + 1}-01-01"
    )
    [item] = (await client.get("/v1/indicators", params={"plan_id": new["id"]})).json()["items"]
    detail = (await client.get(f"/v1/indicators/{item['id']}")).json()
    assert detail["due_date"] == f"{YEAR + 1}-09-01"
    assert detail["milestones"][0]["due_date"] == f"{YEAR + 1}-06-30"
    assert detail["status"] == "not_started" and detail["history"] == []


async def test_the_sweep_reminds_a_silent_department_once_per_period(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    plan_code: str,
    department: Department,
) -> None:
    start = TODAY - timedelta(days=100)
    await _plan(
        client,
        plan_code,
        period_start=start.isoformat(),
        period_end=(TODAY + timedelta(days=200)).isoformat(),
        year=start.year,
    )
    silent = await _indicator(client, plan_code, code="S")
    talking = await _indicator(client, plan_code, code="T")
    await client.post(
        f"/v1/indicators/{talking['id']}/reports", json={"value": 1}, headers=department("edu")
    )

    async with app.state.sessions() as session, session.begin():
        await progress.sweep(session, settings, TODAY)
    async with app.state.sessions() as session, session.begin():
        await progress.sweep(session, settings, TODAY + timedelta(days=1))  # too soon again

    reminders = [d for k, d in await _events(app, silent["id"]) if k == "report_overdue"]
    assert len(reminders) == 1
    assert reminders[0]["department_id"] == "edu"
    assert reminders[0]["days_without_report"] == 100
    assert reminders[0]["last_reported_on"] is None
    assert [k for k, _ in await _events(app, talking["id"]) if k == "report_overdue"] == []

    async with app.state.sessions() as session, session.begin():
        await progress.sweep(
            session, settings, TODAY + timedelta(days=settings.report_reminder_days)
        )
    reminders = [d for k, d in await _events(app, silent["id"]) if k == "report_overdue"]
    assert len(reminders) == 2


async def test_the_sweep_moves_a_missed_milestone_to_overdue(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, plan_code: str
) -> None:
    await _plan(client, plan_code)
    indicator = await _indicator(
        client, plan_code, kind="milestone", target=None, due_date=TODAY.isoformat()
    )
    async with app.state.sessions() as session, session.begin():
        await progress.sweep(session, settings, TODAY + timedelta(days=1))
        plan = await session.scalar(select(Plan).where(Plan.code == plan_code))
        assert plan is not None
    changes = [d for k, d in await _events(app, indicator["id"]) if k == "status_changed"]
    assert [(c["from_status"], c["to_status"]) for c in changes] == [("not_started", "overdue")]
    assert changes[0]["department_ids"] == ["edu"] and changes[0]["plan_id"] == str(plan.id)


async def test_creating_requests_with_an_idempotency_key_create_once(
    client: httpx.AsyncClient, app: FastAPI, plan_code: str, department: Department
) -> None:
    body = {"code": plan_code, "name_zh": f"{YEAR}年计划", "year": YEAR}
    key = {"Idempotency-Key": f"plan-{plan_code}"}
    first = await client.post("/v1/plans", json=body, headers=key)
    again = await client.post("/v1/plans", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    # The same key for another request is a client error, and changes nothing.
    other = await client.post("/v1/plans", json={**body, "name_zh": "别的"}, headers=key)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")

    indicator = {
        "code": "I-9",
        "name_zh": "新增学位",
        "kind": "at_least",
        "target": 10,
        "unit": "school_places",
        "lead_department": "edu",
    }
    url = f"/v1/plans/{plan_code}/indicators"
    created = [
        await client.post(url, json=indicator, headers={"Idempotency-Key": "ind-1"})
        for _ in range(2)
    ]
    assert [r.status_code for r in created] == [201, 201]
    assert created[0].json()["id"] == created[1].json()["id"]

    # A department's report, retried after a lost answer, is one report.
    reports = f"/v1/indicators/{created[0].json()['id']}/reports"
    headers = {**department("edu"), "Idempotency-Key": "q1-report"}
    sent = [await client.post(reports, json={"value": 4}, headers=headers) for _ in range(2)]
    assert [r.status_code for r in sent] == [201, 201]
    assert sent[0].json()["id"] == sent[1].json()["id"]
    # Keys are the caller's own: another department's same key is its own request.
    elsewhere = await client.post(
        reports, json={"value": 4}, headers={**department("fin"), "Idempotency-Key": "q1-report"}
    )
    assert elsewhere.status_code == 403  # fin does not co-organise: refused, not replayed
    assert "Idempotent-Replayed" not in elsewhere.headers

    async with app.state.sessions() as session:
        plans = await session.scalar(select(func.count()).where(Plan.code == plan_code))
        stored = await session.scalar(
            select(func.count())
            .select_from(ProgressReport)
            .where(ProgressReport.indicator_id == uuid.UUID(created[0].json()["id"]))
        )
    assert (plans, stored) == (1, 1)
