"""The working-day calendar: read any year, enter a year's official schedule (admin).

``PUT /v1/calendar/{year}`` is how a district enters the State Council's notice the day it
appears; every running clock that rests on the year is then computed again in the background
(``deadlines.recompute``), each moved date with a timeline entry and an event.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import JSONResponse

from gov_common.app import SessionDep
from gov_common.clock import today_in_china
from gov_common.db import after_commit
from gov_common.preconditions import check_if_match
from gov_common.problems import PROBLEM_RESPONSES, ProblemError
from gov_common.security.setup import PrincipalDep
from petitions_api.deadlines.calendar import service
from petitions_api.deadlines.calendar.cache import cache, read_calendar
from petitions_api.deadlines.calendar.schemas import (
    CalendarChange,
    CalendarCoverage,
    CalendarVersionRead,
    CalendarYearSummary,
    CalendarYearWrite,
)
from petitions_api.deadlines.calendar.sources import FIRST_YEAR, LAST_YEAR
from petitions_api.deadlines.recompute import stale_clock_count
from petitions_api.reference.cache import database_key

router = APIRouter(prefix="/v1/calendar", tags=["calendar"], responses=PROBLEM_RESPONSES)
Year = Annotated[int, Path(ge=FIRST_YEAR, le=LAST_YEAR, description="e.g. 2027")]


@router.get("", summary="How far ahead the calendar is known, and each year's source")
async def calendar_coverage(session: SessionDep) -> CalendarCoverage:
    calendar = await read_calendar(session)
    today = today_in_china()
    covered = calendar.covered_until(today)
    years = range(today.year - 1, today.year + service.YEARS_AHEAD + 1)
    return CalendarCoverage(
        today=today,
        covered_until=covered,
        days_left=(covered - today).days,
        years=[CalendarYearSummary(year=y, source=calendar.source(y)) for y in years],
    )


@router.get("/{year}", summary="A year's working-day calendar and where it comes from")
async def get_calendar_year(year: Year, session: SessionDep) -> JSONResponse:
    view = service.year_view(
        year, await read_calendar(session), await service.versions(session, year)
    )
    return JSONResponse(view.model_dump(mode="json"), headers={"ETag": service.etag(view)})


@router.get("/{year}/versions", summary="Every schedule used for the year, oldest first")
async def list_calendar_versions(year: Year, session: SessionDep) -> list[CalendarVersionRead]:
    return [CalendarVersionRead.model_validate(v) for v in await service.versions(session, year)]


@router.put(
    "/{year}",
    summary="Enter a year's official schedule (the State Council's notice)",
    responses={412: PROBLEM_RESPONSES[409] | {"description": "Precondition Failed"}},
)
async def put_calendar_year(
    year: Year,
    body: CalendarYearWrite,
    session: SessionDep,
    request: Request,
    principal: PrincipalDep,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='the year\'s ETag from GET ("2027-v0" before the first entry); 412 if '
            "someone entered it since, 428 without it",
        ),
    ] = None,
) -> Response:
    schedule = service.validate_schedule(year, body)
    before = await read_calendar(session)
    current = service.year_view(year, before, await service.versions(session, year))
    check_if_match(if_match, service.etag(current), f"{year} calendar", required=True)
    depending = await stale_clock_count(session, year=year)
    if year < today_in_china().year and depending == 0:
        raise ProblemError(
            409,
            f"{year} is over and no running deadline rests on it: its cases were settled on "
            "the calendar they were counted on, which is not rewritten",
            problem_type="calendar-year-closed",
        )
    entered = await service.enter_schedule(
        session,
        year,
        schedule,
        notice=body.notice,
        origin="api",
        entered_by=principal.subject,
    )
    view = service.year_view(year, entered.calendar, await service.versions(session, year))
    if entered.version is not None:
        key = database_key(session.bind)
        sweeper = request.app.state.sweeper

        def changed() -> None:
            cache.invalidate(key)
            sweeper.wake()

        after_commit(session, changed)
    answer = CalendarChange(
        calendar=view, changed=entered.version is not None, clocks_to_recompute=depending
    )
    return JSONResponse(answer.model_dump(mode="json"), headers={"ETag": service.etag(view)})
