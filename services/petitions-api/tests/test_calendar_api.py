"""The calendar as data (GET/PUT /v1/calendar/{year}), deadlines that say they are
provisional, and running clocks computed again when a year's schedule is entered.

Entering a schedule changes every deadline in the database, so the tests that do it run on a
database of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from gov_common.clock import CHINA_TZ, today_in_china
from gov_common.db import unit_of_work
from gov_common.testing import Infrastructure
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.db import OutboxMessage
from petitions_api.deadlines.calendar.service import prepare_calendar
from petitions_api.deadlines.calendar.sources import CalendarSource, statutory_rest_days
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.deadlines.service import sweep

from .helpers import (
    ACTOR_ID,
    accept_petition,
    app_with_reference_data,
    create,
    own_database,
    petition,
)

pytestmark = pytest.mark.integration

TODAY = today_in_china()
DEADLINE_CHANGED = "gov.petitions.case.deadline_changed.v1"
OVERDUE = "gov.petitions.case.overdue.v1"


def _next_year() -> int:
    """The first year after this one that no library knows (2027 while this is written)."""
    calendar, year = WorkingCalendar(), TODAY.year + 1
    while calendar.source(year) is not CalendarSource.PROVISIONAL:
        year += 1
    return year


YEAR = _next_year()


def made_up_schedule(year: int = YEAR) -> dict[str, Any]:
    """A schedule as a notice could give it: the law's weekday rest days, two more weekdays
    after Spring Festival (补假), and two Saturdays worked (调休)."""
    rest = sorted(d for d in statutory_rest_days(year) if d.weekday() < 5)
    weekdays = [d for d in (date(year, 1, 4) + timedelta(days=i) for i in range(60))]
    extra = [d for d in weekdays if d.weekday() < 5 and d not in rest][:2]
    saturdays = [d for d in (date(year, 2, 20) + timedelta(days=i) for i in range(21))]
    worked = [d for d in saturdays if d.weekday() == 5][:2]
    return {
        "holidays": [d.isoformat() for d in sorted({*rest, *extra})],
        "make_up_workdays": [d.isoformat() for d in worked],
        "notice": f"国务院办公厅关于{year}年部分节假日安排的通知（测试用）",
    }


@pytest.fixture
async def own_app(infrastructure: Infrastructure, auth: SessionAuth) -> AsyncIterator[FastAPI]:
    async with (
        own_database(infrastructure, auth, "petitions_calendar") as settings,
        app_with_reference_data(settings) as application,
    ):
        yield application


@pytest.fixture
async def admin(own_app: FastAPI, auth: SessionAuth) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(own_app),
        base_url="http://petitions",
        headers=auth.headers("admin", subject=ACTOR_ID),
    ) as http:
        yield http


async def _put(client: httpx.AsyncClient, year: int, body: dict[str, Any]) -> httpx.Response:
    etag = (await client.get(f"/v1/calendar/{year}")).headers["ETag"]
    return await client.put(f"/v1/calendar/{year}", json=body, headers={"If-Match": etag})


def _clock(case: dict[str, Any], kind: str) -> dict[str, Any]:
    running = [
        d
        for d in case["deadlines"]
        if d["kind"] == kind and not d["met_at"] and not d["cancelled_at"]
    ]
    assert len(running) == 1, case["deadlines"]
    return running[0]


async def _events(app: FastAPI, case_id: str, type_name: str) -> list[dict[str, Any]]:
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.message_key == case_id, OutboxMessage.event_type == type_name)
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [orjson.loads(r.payload) for r in rows]


async def test_a_year_no_library_knows_is_provisional_with_the_laws_rest_days(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/v1/calendar/{YEAR}")
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == "provisional"
    assert body["make_up_workdays"] == []
    assert body["version"] == 0 and body["notice"] is None
    assert response.headers["ETag"] == f'"{YEAR}-v0"'
    assert len(body["statutory_rest_days"]) == 13
    if YEAR == 2027:  # Spring Festival 2027: 除夕 Fri 5 Feb, 初一–初三 Sat 6 – Mon 8 Feb
        assert {"2027-02-05", "2027-02-08"} <= set(body["holidays"])
        assert {"2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"} <= set(
            body["statutory_rest_days"]
        )
    library = (await client.get(f"/v1/calendar/{TODAY.year}")).json()
    assert library["source"] == "library"
    assert (await client.get("/v1/calendar/1999")).status_code == 422
    coverage = (await client.get("/v1/calendar")).json()
    assert coverage["covered_until"] == f"{YEAR - 1}-12-31"
    assert {"year": YEAR, "source": "provisional"} in coverage["years"]


async def test_a_petition_accepted_today_has_a_provisional_handling_deadline(
    client: httpx.AsyncClient,
) -> None:
    case = await create(client, petition())
    accepted = await accept_petition(client, case["id"])
    handling = _clock(accepted, "handling")
    due = date.fromisoformat(handling["due_on"])
    # Provisional exactly when the 60 days reach a year only the law's rest days are known of.
    reckoning = WorkingCalendar().reckoning()
    assert reckoning.statutory_due_on(TODAY, 60) == due
    assert handling["provisional"] is reckoning.provisional
    if TODAY.year == 2026 and date(2026, 11, 2) <= TODAY:
        assert handling["provisional"] is True  # the 60 days end in 2027
    # The list, the queue and the event say so too.
    listed = (await client.get("/v1/cases", params={"q": accepted["case_number"]})).json()
    assert _clock(listed["items"][0], "handling")["provisional"] is handling["provisional"]


async def test_entering_a_schedule_is_validated_date_by_date(
    admin: httpx.AsyncClient, auth: SessionAuth
) -> None:
    year = YEAR
    wrong = {
        "holidays": [f"{year}-02-06", f"{year - 1}-12-31", f"{year}-02-05"],
        "make_up_workdays": [f"{year}-02-05", f"{year}-02-09"],
        "notice": "国务院办公厅通知",
    }
    # Which of those are weekends depends on the year; check the reasons name each date.
    response = await _put(admin, year, wrong)
    assert response.status_code == 422, response.text
    problem = response.json()
    reasons = {(p["name"], p["reason"].split(" ")[0]) for p in problem["invalid_params"]}
    assert ("holidays", f"{year - 1}-12-31") in reasons  # outside the year
    assert ("make_up_workdays", f"{year}-02-05") in reasons  # also a holiday (and a weekday)
    for day in (date(year, 2, 6), date(year, 2, 9)):
        field = "holidays" if day.day == 6 else "make_up_workdays"
        weekend = day.weekday() >= 5
        assert ((field, day.isoformat()) in reasons) is (
            weekend if field == "holidays" else not weekend
        )

    missing = await admin.put(f"/v1/calendar/{year}", json=made_up_schedule())
    assert missing.status_code == 428
    stale = await admin.put(
        f"/v1/calendar/{year}", json=made_up_schedule(), headers={"If-Match": f'"{year}-v9"'}
    )
    assert stale.status_code == 412
    weak = await admin.put(
        f"/v1/calendar/{year}", json=made_up_schedule(), headers={"If-Match": f'W/"{year}-v0"'}
    )
    assert weak.status_code == 412  # strong comparison (RFC 9110 §13.1.1)
    planner = await admin.put(
        f"/v1/calendar/{year}",
        json=made_up_schedule(),
        headers={**auth.headers("planner"), "If-Match": f'"{year}-v0"'},
    )
    assert planner.status_code == 403
    past = await _put(admin, TODAY.year - 1, made_up_schedule(TODAY.year - 1))
    assert past.status_code == 409 and past.json()["type"].endswith("calendar-year-closed")
    assert (await admin.get(f"/v1/calendar/{year}/versions")).json() == []


async def test_entering_the_notice_moves_the_dates_that_rest_on_the_year(
    own_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    accepted = await create(admin, petition(received_on=TODAY.isoformat()))
    accepted = await accept_petition(admin, accepted["id"])
    before = _clock(accepted, "handling")
    untouched = await create(admin, petition())  # its 15-day clock may end this year
    untouched_before = _clock(untouched, "forwarding")

    # The handling clock runs into YEAR; make it rest on days the made-up notice changes.
    schedule = made_up_schedule()
    async with unit_of_work(own_app.state.sessions) as session:
        clock = await session.get(CaseDeadline, await _clock_id(session, accepted["id"]))
        assert clock is not None
        first_extra = date.fromisoformat(
            next(h for h in schedule["holidays"] if date.fromisoformat(h) >= date(YEAR, 1, 4))
        )
        clock.starts_on = first_extra - timedelta(days=60)  # ends exactly on the new holiday
        clock.calendar_revision = 0
    await own_app.state.sweeper.recompute_once()  # nothing stale yet: no version exists
    response = await _put(admin, YEAR, schedule)
    assert response.status_code == 200, response.text
    change = response.json()
    assert change["changed"] is True
    assert change["calendar"]["source"] == "official"
    assert change["calendar"]["version"] == 1
    assert change["clocks_to_recompute"] >= 1
    assert response.headers["ETag"] == f'"{YEAR}-v1"'

    result = await own_app.state.sweeper.recompute_once()
    assert result.moved >= 1 and not result.remaining

    after = (await admin.get(f"/v1/cases/{accepted['id']}")).json()
    handling = _clock(after, "handling")
    assert handling["provisional"] is False
    assert handling["due_on"] != before["due_on"]
    assert date.fromisoformat(handling["due_on"]) > first_extra  # rolled past the new holiday
    assert after["version"] == accepted["version"] + 1
    timeline = (await admin.get(f"/v1/cases/{accepted['id']}/timeline")).json()
    entry = next(e for e in timeline if e["action"] == "deadline_changed")
    assert entry["details"]["new_due_on"] == handling["due_on"]
    assert entry["actor"] == ACTOR_ID and schedule["notice"] in entry["reason"]
    changed = await _events(own_app, accepted["id"], DEADLINE_CHANGED)
    assert len(changed) == 1
    assert changed[0]["deadline"] == "handling"
    assert changed[0]["new_due_on"] == handling["due_on"]
    assert changed[0]["provisional"] is False
    assert changed[0]["calendar_years"] == [YEAR]

    # A clock that never read the year is not touched.
    again = (await admin.get(f"/v1/cases/{untouched['id']}")).json()
    if date.fromisoformat(untouched_before["due_on"]).year < YEAR:
        assert _clock(again, "forwarding")["due_on"] == untouched_before["due_on"]
        assert await _events(own_app, untouched["id"], DEADLINE_CHANGED) == []

    # The same schedule again changes nothing; the history keeps the entry.
    repeated = await _put(admin, YEAR, schedule)
    assert repeated.json()["changed"] is False
    assert (await own_app.state.sweeper.recompute_once()).moved == 0
    assert len(await _events(own_app, accepted["id"], DEADLINE_CHANGED)) == 1
    versions = (await admin.get(f"/v1/calendar/{YEAR}/versions")).json()
    assert [(v["source"], v["origin"], v["entered_by"]) for v in versions] == [
        ("official", "api", ACTOR_ID)
    ]
    year = (await admin.get(f"/v1/calendar/{YEAR}")).json()
    assert (year["notice"], year["updated_by"]) == (schedule["notice"], ACTOR_ID)


async def _clock_id(session: Any, case_id: str, kind: str = "handling") -> int:
    found = await session.scalar(
        select(CaseDeadline.id).where(
            CaseDeadline.case_id == uuid.UUID(case_id),
            CaseDeadline.kind == kind,
            CaseDeadline.met_at.is_(None),
            CaseDeadline.cancelled_at.is_(None),
        )
    )
    assert found is not None
    return int(found)


async def test_start_up_records_the_sources_and_corrects_clocks_stored_by_older_rules(
    own_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """A clock stored before the calendar was data (revision 0, a date counted on the old
    rules) is computed again once the start-up records the years' sources."""
    case = await create(admin, petition())
    case = await accept_petition(admin, case["id"])
    async with unit_of_work(own_app.state.sessions) as session:
        clock = await session.get(CaseDeadline, await _clock_id(session, case["id"]))
        assert clock is not None
        correct = clock.due_on
        assert correct is not None
        clock.due_on = correct - timedelta(days=1)  # as a wrong earlier rule stored it
        clock.calendar_revision = 0
    async with unit_of_work(own_app.state.sessions) as session:
        await prepare_calendar(session, own_app.state.settings)
    async with unit_of_work(own_app.state.sessions) as session:
        await prepare_calendar(session, own_app.state.settings)  # idempotent
    versions = (await admin.get(f"/v1/calendar/{TODAY.year}/versions")).json()
    assert [v["source"] for v in versions] == ["library"]
    assert [v["source"] for v in (await admin.get(f"/v1/calendar/{YEAR}/versions")).json()] == [
        "provisional"
    ]
    await own_app.state.sweeper.recompute_once()
    after = _clock((await admin.get(f"/v1/cases/{case['id']}")).json(), "handling")
    assert after["due_on"] == correct.isoformat()
    assert len(await _events(own_app, case["id"], DEADLINE_CHANGED)) == 1


async def test_the_schedule_file_seeds_a_year_once(
    infrastructure: Infrastructure, auth: SessionAuth, tmp_path: Any
) -> None:
    schedule = made_up_schedule()
    data = tmp_path / "holiday_schedules.yaml"
    data.write_text(
        orjson.dumps({"years": [{"year": YEAR, **schedule}]}).decode(), encoding="utf-8"
    )
    async with own_database(infrastructure, auth, "petitions_calendar_file") as settings:
        settings = settings.model_copy(update={"calendar_file": data})
        async with app_with_reference_data(settings) as application:
            for _ in range(2):  # a second start loads nothing new
                async with unit_of_work(application.state.sessions) as session:
                    await prepare_calendar(session, settings)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(application),
                base_url="http://petitions",
                headers=auth.headers("read_only"),
            ) as http:
                year = (await http.get(f"/v1/calendar/{YEAR}")).json()
                versions = (await http.get(f"/v1/calendar/{YEAR}/versions")).json()
    assert year["source"] == "official" and year["notice"] == schedule["notice"]
    assert [(v["origin"], v["entered_by"]) for v in versions] == [
        ("file:holiday_schedules.yaml", "system")
    ]


async def test_the_sweep_never_alerts_about_a_date_that_no_longer_holds(
    own_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    """Between a schedule's entry and the recompute, a clock resting on the year is stale:
    the sweep skips it; once recomputed, it is alerted about its new date, once."""
    case = await create(admin, petition())
    case = await accept_petition(admin, case["id"])
    schedule = made_up_schedule()
    first_extra = date.fromisoformat(
        next(h for h in schedule["holidays"] if date.fromisoformat(h) >= date(YEAR, 1, 4))
    )
    async with unit_of_work(own_app.state.sessions) as session:
        clock = await session.get(CaseDeadline, await _clock_id(session, case["id"]))
        assert clock is not None
        clock.starts_on = first_extra - timedelta(days=60)
        clock.due_on = first_extra
        clock.due_at = datetime.combine(first_extra + timedelta(days=1), time.min, CHINA_TZ)
        clock.calendar_years = [YEAR]
        old_due_at = clock.due_at
    assert (await _put(admin, YEAR, schedule)).status_code == 200

    async def sweep_at(now: datetime) -> None:
        async with unit_of_work(own_app.state.sessions) as session:
            await sweep(session, own_app.state.settings, now=now)

    await sweep_at(old_due_at + timedelta(hours=1))  # past the old date: stale, so silent
    assert await _events(own_app, case["id"], OVERDUE) == []
    await own_app.state.sweeper.recompute_once()
    after = _clock((await admin.get(f"/v1/cases/{case['id']}")).json(), "handling")
    new_due_at = datetime.fromisoformat(after["due_at"])
    assert new_due_at > old_due_at
    await sweep_at(new_due_at + timedelta(hours=1))
    await sweep_at(new_due_at + timedelta(hours=2))
    overdue = await _events(own_app, case["id"], OVERDUE)
    assert len(overdue) == 1
    assert datetime.fromisoformat(overdue[0]["due_at"]) == new_due_at
    assert overdue[0]["provisional"] is False
