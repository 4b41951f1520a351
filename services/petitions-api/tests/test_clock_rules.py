"""The clock table's rules through the API: the 复查/复核 request window, what may be
extended and by how much, the city's return window, and the 督办 clock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from gov_common.clock import today_in_china
from gov_common.db import unit_of_work
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.cases.models import Case
from petitions_api.db import OutboxMessage
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.deadlines.service import sweep

from .helpers import act, app_with_reference_data, case_in, hotline, petition

pytestmark = pytest.mark.integration

TODAY = today_in_china()
CALENDAR = WorkingCalendar()


def _running(case: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [
        d
        for d in case["deadlines"]
        if d["kind"] == kind and d["met_at"] is None and d["cancelled_at"] is None
    ]
    assert len(found) == 1, case["deadlines"]
    return found[0]


async def _replied_on(app: FastAPI, case_id: str, day: date) -> None:
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(Case).where(Case.id == uuid.UUID(case_id)).values(replied_on=day)
        )


def _reply_whose_window_ends_on_a_weekend() -> date:
    """A past reply day whose 30th day is a Saturday and the Monday after a working day."""
    day = TODAY - timedelta(days=40)
    while not (
        (day + timedelta(days=30)).weekday() == 5
        and CALENDAR.is_working_day(day + timedelta(days=32))
        and not CALENDAR.is_working_day(day + timedelta(days=31))
    ):
        day -= timedelta(days=1)
    return day


async def test_a_review_request_entered_late_counts_from_its_arrival(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """第三十五条: within 30 days of receiving the reply, to the day the request arrived — not
    to the day it is entered; the period's end rolls past rest days."""
    replied = _reply_whose_window_ends_on_a_weekend()
    in_time = await case_in(client, "replied")
    await _replied_on(app, in_time["id"], replied)
    # Arrived on the Monday after the 30th day (a Saturday); entered today, weeks later.
    monday = replied + timedelta(days=32)
    response = await act(
        client,
        in_time["id"],
        "request_review",
        {"reason": "对答复意见不服，申请复查", "requested_on": monday.isoformat()},
    )
    assert response.status_code == 200, response.text
    review = (await client.get("/v1/cases", params={"parent_case_id": in_time["id"]})).json()[
        "items"
    ][0]
    assert review["review_stage"] == "review"
    assert review["received_on"] == monday.isoformat()
    clock = _running(review, "review")
    assert clock["due_on"] == CALENDAR.reckoning().statutory_due_on(monday, 30).isoformat()

    late = await case_in(client, "replied")
    await _replied_on(app, late["id"], replied)
    refused = await act(
        client,
        late["id"],
        "request_review",
        {"reason": "申请复查", "requested_on": (monday + timedelta(days=1)).isoformat()},
    )
    assert refused.status_code == 409, refused.text
    assert "within 30 days of receiving" in refused.json()["detail"]
    assert f"ended on {monday}, rolled past rest days" in refused.json()["detail"]

    # Received later than given (the 送达回证 says so): the window starts then.
    received = replied + timedelta(days=3)
    accepted = await act(
        client,
        late["id"],
        "request_review",
        {
            "reason": "申请复查",
            "requested_on": (monday + timedelta(days=1)).isoformat(),
            "reply_received_on": received.isoformat(),
        },
    )
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"requested_on": (TODAY + timedelta(days=1)).isoformat()}, "requested_on"),
        ({"requested_on": (TODAY - timedelta(days=7)).isoformat()}, "requested_on"),
        ({"reply_received_on": (TODAY - timedelta(days=9)).isoformat()}, "reply_received_on"),
        ({"reply_received_on": (TODAY + timedelta(days=2)).isoformat()}, "reply_received_on"),
    ],
)
async def test_a_review_request_names_days_that_can_be(
    client: httpx.AsyncClient, app: FastAPI, dates: dict[str, str], field: str
) -> None:
    """In the future, or before the reply was given or received: 422, nothing recorded."""
    case = await case_in(client, "replied")
    await _replied_on(app, case["id"], TODAY - timedelta(days=5))
    response = await act(client, case["id"], "request_review", {"reason": "申请复查", **dates})
    assert response.status_code == 422, response.text
    assert field in {p["name"] for p in response.json()["invalid_params"]}
    unchanged = (await client.get(f"/v1/cases/{case['id']}")).json()
    assert unchanged["version"] == case["version"]
    reviews = await client.get("/v1/cases", params={"parent_case_id": case["id"]})
    assert reviews.json()["items"] == []


async def _review_in_progress(client: httpx.AsyncClient, stage_steps: int = 1) -> dict[str, Any]:
    case = await case_in(client, "replied")
    for _ in range(stage_steps):
        assert (await act(client, case["id"], "request_review")).status_code == 200
        review = (await client.get("/v1/cases", params={"parent_case_id": case["id"]})).json()[
            "items"
        ][0]
        for step in ("accept",):  # routed to the organ above at the request
            response = await act(client, review["id"], step)
            assert response.status_code == 200, (step, response.text)
        case = response.json()
    return case


async def test_a_review_clock_is_not_extended(client: httpx.AsyncClient) -> None:
    """第三十五条 gives the 30 days of a 复查 no extension (unlike 第三十四条's 60)."""
    review = await _review_in_progress(client)
    assert _running(review, "review")
    assert "request_extension" not in review["allowed_actions"]
    body = {"days": 5, "reason": "情况复杂"}
    for step in ("extend", "request_extension"):
        refused = await act(client, review["id"], step, body)
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"].endswith("/action-not-allowed")
    assert (await client.get(f"/v1/cases/{review['id']}")).json()["extended"] is False


async def test_a_re_review_has_its_own_clock(client: httpx.AsyncClient) -> None:
    # A village replied: 城关街道 reviews, the district re-reviews (第三十五条、第三十六条).
    case = await case_in(client, "replied", petition(handling_unit_id="610203001001"))
    assert (await act(client, case["id"], "request_review")).status_code == 200
    review = (await client.get("/v1/cases", params={"parent_case_id": case["id"]})).json()["items"][
        0
    ]
    for step in ("accept", "reply"):
        assert (await act(client, review["id"], step)).status_code == 200
    assert (await act(client, review["id"], "request_review")).status_code == 200
    re_review = (await client.get("/v1/cases", params={"parent_case_id": review["id"]})).json()[
        "items"
    ][0]
    assert re_review["review_stage"] == "re_review"
    clock = _running(re_review, "re_review")
    assert clock["due_on"] == CALENDAR.reckoning().statutory_due_on(TODAY, 30).isoformat()


async def test_a_hotline_extension_is_the_citys_rule_in_working_days(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    settings = app.state.settings
    limit = settings.hotline_extension_max_working_days
    ticket = await case_in(client, "in_progress", hotline())
    clock = _running(ticket, "hotline")
    too_long = await act(
        client, ticket["id"], "extend", {"days": limit + 1, "reason": "需协调多个部门"}
    )
    assert too_long.status_code == 422, too_long.text
    assert f"1 to {limit} working days" in too_long.json()["detail"]
    extended = await act(client, ticket["id"], "extend", {"days": 2, "reason": "需协调多个部门"})
    assert extended.status_code == 200, extended.text
    new = _running(extended.json(), "hotline")
    start = datetime.fromisoformat(clock["started_at"]).astimezone(UTC)
    tier_days = CALENDAR.reckoning()
    base = date.fromisoformat(clock["due_on"])
    assert new["due_on"] == tier_days.add_working_days(base, 2).isoformat()
    assert start == datetime.fromisoformat(new["started_at"]).astimezone(UTC)

    urgent = await case_in(client, "in_progress", hotline(urgent=True))
    assert _running(urgent, "hotline")["due_on"] is None  # hours on the clock
    refused = await act(client, urgent["id"], "extend", {"days": 1, "reason": "x"})
    assert refused.status_code == 409 and "runs in hours" in refused.json()["detail"]


async def test_the_hotline_return_window_is_configuration(settings: Any, auth: SessionAuth) -> None:
    """PETITIONS_HOTLINE_RETURN_WORKING_DAYS sets a ticket's 退单 window; a 信访 case keeps the
    five working days of the 条例."""
    custom = settings.model_copy(update={"hotline_return_working_days": 2})
    async with (
        app_with_reference_data(custom) as application,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(application),
            base_url="http://petitions",
            headers=auth.headers("admin"),
        ) as http,
    ):
        ticket = await case_in(http, "dispatched", hotline())
        petition_case = await case_in(http, "dispatched", petition())
    reckoning = CALENDAR.reckoning()
    assert _running(ticket, "return")["due_on"] == reckoning.add_working_days(TODAY, 2).isoformat()
    assert (
        _running(petition_case, "return")["due_on"]
        == reckoning.add_working_days(TODAY, 5).isoformat()
    )


async def _alerts(app: FastAPI, case_id: str) -> list[dict[str, Any]]:
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.message_key == case_id,
                    OutboxMessage.event_type.in_(
                        ["gov.petitions.case.due_soon.v1", "gov.petitions.case.overdue.v1"]
                    ),
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [{"type": r.event_type.split(".")[3], **orjson.loads(r.payload)} for r in rows]


async def test_supervision_has_a_clock_with_due_soon_overdue_and_a_filter(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    case = await case_in(client, "in_progress")
    due_on = TODAY + timedelta(days=5)
    supervised = await act(client, case["id"], "supervise", {"due_on": due_on.isoformat()})
    assert supervised.status_code == 200, supervised.text
    clock = _running(supervised.json(), "supervision")
    assert clock["due_on"] == due_on.isoformat() and clock["provisional"] is False
    listed = (await client.get("/v1/cases", params={"supervised": "true", "limit": 200})).json()
    assert case["id"] in {c["id"] for c in listed["items"]}

    # Move every clock of the case out of the way but the supervision one, far ahead.
    due_at = datetime(2035, 3, 1, 16, tzinfo=UTC)
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(CaseDeadline)
            .where(CaseDeadline.case_id == uuid.UUID(case["id"]))
            .values(due_at=datetime(2036, 1, 1, tzinfo=UTC))
        )
        await session.execute(
            update(CaseDeadline)
            .where(
                CaseDeadline.case_id == uuid.UUID(case["id"]), CaseDeadline.kind == "supervision"
            )
            .values(due_at=due_at)
        )
    for now in (due_at - timedelta(hours=30), due_at - timedelta(hours=20), due_at + timedelta(1)):
        async with unit_of_work(app.state.sessions) as session:
            await sweep(session, app.state.settings, now=now)
    alerts = [a for a in await _alerts(app, case["id"]) if a["deadline"] == "supervision"]
    assert [(a["type"], a["threshold"]) for a in alerts] == [
        ("due_soon", "72h"),
        ("due_soon", "24h"),
        ("overdue", "0"),
    ]
    assert alerts[-1]["supervisor_id"] == supervised.json()["supervisor_id"]
    # By the wall clock: past its 督办 date, and another case late on another clock only.
    other = await case_in(client, "in_progress")
    past = datetime.now(UTC) - timedelta(hours=1)
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(CaseDeadline)
            .where(
                CaseDeadline.case_id == uuid.UUID(case["id"]), CaseDeadline.kind == "supervision"
            )
            .values(due_at=past)
        )
        await session.execute(
            update(CaseDeadline)
            .where(CaseDeadline.case_id == uuid.UUID(other["id"]))
            .values(due_at=past)
        )
    params = {"overdue": "true", "deadline": "supervision", "limit": 200}
    late = {c["id"] for c in (await client.get("/v1/cases", params=params)).json()["items"]}
    assert case["id"] in late and other["id"] not in late
    params = {"overdue": "true", "limit": 200}
    late = {c["id"] for c in (await client.get("/v1/cases", params=params)).json()["items"]}
    assert {case["id"], other["id"]} <= late

    replied = await act(client, case["id"], "reply")
    assert replied.status_code == 200
    assert all(d["met_at"] for d in replied.json()["deadlines"] if d["kind"] == "supervision")
