"""HTTP routes for live figures."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gov_common.app import SessionDep
from gov_common.problems import PROBLEM_RESPONSES, ProblemError
from targets_api.live import service

router = APIRouter(prefix="/v1/live", tags=["live indicators"], responses=PROBLEM_RESPONSES)


class CaseEventCounts(BaseModel):
    counts: dict[str, int]


class GrassrootsRate(BaseModel):
    period_start: date
    period_end: date
    first_time_concluded: int
    concluded_effectively_at_grassroots: int
    rate_percent: float | None
    definition_versions: list[str]
    metric_url: str
    cases_url: str


@router.get("/case-events", summary="How many case events of each type were consumed")
async def case_event_counts(session: SessionDep) -> CaseEventCounts:
    return CaseEventCounts(counts=await service.case_event_counts(session))


@router.get(
    "/first-time-grassroots-rate",
    summary="初信初访基层有效化解率 for a period, from the consumed case events",
)
async def grassroots_rate(
    session: SessionDep, request: Request, start: date, end: date
) -> GrassrootsRate:
    if end < start:
        raise ProblemError(400, "end must not be before start", problem_type="invalid-period")
    figure = await service.first_time_grassroots_rate(session, start, end)
    metric_url, cases_url = service.source_links(request.app.state.settings, start, end)
    percent = figure.percent
    return GrassrootsRate(
        period_start=start,
        period_end=end,
        first_time_concluded=figure.denominator,
        concluded_effectively_at_grassroots=figure.numerator,
        rate_percent=float(percent) if percent is not None else None,
        definition_versions=figure.definition_versions,
        metric_url=metric_url,
        cases_url=cases_url,
    )
