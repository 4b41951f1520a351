"""HTTP routes for plans, indicators, the dashboard and exports."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select, tuple_

from gov_common.app import SessionDep
from gov_common.clock import today_in_china
from gov_common.idempotency import IdempotencyKeyHeader
from gov_common.pagination import Page, decode_cursor, encode_cursor
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.setup import PrincipalDep
from targets_api.config import Settings
from targets_api.db import idempotency
from targets_api.indicators import export, service
from targets_api.indicators.models import Indicator, IndicatorStatus
from targets_api.indicators.schemas import (
    Dashboard,
    DepartmentSummary,
    IndicatorDetail,
    IndicatorIn,
    IndicatorRead,
    LiveFigure,
    LivelihoodProject,
    MilestoneRead,
    PlanCopy,
    PlanCreate,
    PlanRead,
    Progress,
)
from targets_api.live import service as live
from targets_api.progress import service as progress
from targets_api.progress.schemas import ReportRead

router = APIRouter(tags=["plans and indicators"], responses=PROBLEM_RESPONSES)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(
    "/v1/plans",
    status_code=201,
    response_model=PlanRead,
    summary="Create a plan (e.g. a year's work report)",
)
async def create_plan(
    body: PlanCreate,
    session: SessionDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> PlanRead | Response:
    async def create() -> tuple[PlanRead, str]:
        plan = await service.create_plan(session, body)
        return PlanRead.model_validate(plan), f"/v1/plans/{plan.id}"

    guard = idempotency(session, request, principal, idempotency_key, body)
    return await guard.created(create, response)


@router.get("/v1/plans", summary="Every plan, newest year first")
async def list_plans(session: SessionDep) -> list[PlanRead]:
    return [PlanRead.model_validate(p) for p in await service.list_plans(session)]


@router.get("/v1/plans/{plan_ref}", summary="One plan, by id or code")
async def get_plan(plan_ref: str, session: SessionDep) -> PlanRead:
    return PlanRead.model_validate(await service.get_plan(session, plan_ref))


@router.post(
    "/v1/plans/{plan_ref}/copies",
    status_code=201,
    response_model=PlanRead,
    summary="Start a new year's plan from this plan's catalogue",
)
async def copy_plan(
    plan_ref: str,
    body: PlanCopy,
    session: SessionDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> PlanRead | Response:
    async def create() -> tuple[PlanRead, str]:
        plan = await service.copy_plan(session, await service.get_plan(session, plan_ref), body)
        return PlanRead.model_validate(plan), f"/v1/plans/{plan.id}"

    guard = idempotency(session, request, principal, idempotency_key, body)
    return await guard.created(create, response)


@router.post(
    "/v1/plans/{plan_ref}/indicators",
    status_code=201,
    response_model=IndicatorDetail,
    summary="Add an indicator to a plan",
)
async def add_indicator(
    plan_ref: str,
    body: IndicatorIn,
    session: SessionDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> IndicatorDetail | Response:
    async def create() -> tuple[IndicatorDetail, str]:
        plan = await service.get_plan(session, plan_ref)
        indicator = await service.add_indicator(session, plan, body)
        await service.refresh_status(session, indicator, today_in_china(), _settings(request))
        view = await _detail(session, indicator, _settings(request))
        return view, f"/v1/indicators/{indicator.id}"

    guard = idempotency(session, request, principal, idempotency_key, body)
    return await guard.created(create, response)


StatusQuery = Annotated[IndicatorStatus | None, Query()]


def _filter(
    plan_id: uuid.UUID | None,
    category: str | None,
    department: str | None,
    status: IndicatorStatus | None,
    livelihood: bool | None,
) -> service.IndicatorFilter:
    return service.IndicatorFilter(plan_id, category, department, status, livelihood)


@router.get("/v1/indicators", summary="List indicators, filtered, in report order")
async def list_indicators(
    session: SessionDep,
    plan_id: uuid.UUID | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    status: StatusQuery = None,
    livelihood_project: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[IndicatorRead]:
    query = service.filtered(
        select(Indicator), _filter(plan_id, category, department, status, livelihood_project)
    ).order_by(Indicator.plan_id, Indicator.position, Indicator.id)
    if cursor is not None:
        key = decode_cursor(cursor, uuid.UUID, int, uuid.UUID)
        query = query.where(
            tuple_(Indicator.plan_id, Indicator.position, Indicator.id) > tuple_(*key)
        )
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([str(last.plan_id), last.position, str(last.id)])
    return Page[IndicatorRead](
        items=[IndicatorRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


async def _detail(session: Any, indicator: Indicator, settings: Settings) -> IndicatorDetail:
    evaluation = await service.evaluate(session, indicator, today_in_china(), settings)
    milestones = (await service.milestones_of(session, [indicator.id])).get(indicator.id, [])
    figure = None
    if evaluation.live is not None:
        metric_url, cases_url = live.source_links(
            settings, evaluation.live.period_start, evaluation.live.period_end
        )
        figure = LiveFigure(
            source=indicator.live_source or "",
            period_start=evaluation.live.period_start,
            period_end=evaluation.live.period_end,
            numerator=evaluation.live.numerator,
            denominator=evaluation.live.denominator,
            definition_versions=evaluation.live.definition_versions,
            metric_url=metric_url,
            cases_url=cases_url,
        )
    history = await progress.history(session, indicator.id)
    return IndicatorDetail(
        **IndicatorRead.model_validate(indicator).model_dump(),
        milestones=[
            MilestoneRead(
                code=m.code,
                name_zh=m.name_zh,
                name_en=m.name_en,
                due_date=m.due_date,
                done=m.code in evaluation.milestones_done,
            )
            for m in milestones
        ],
        progress=Progress(
            value=evaluation.value,
            done=evaluation.done,
            as_of=evaluation.as_of,
            expected_by_now=evaluation.result.expected_by_now,
            elapsed_share=evaluation.result.elapsed_share,
            status=evaluation.result.status,
        ),
        live=figure,
        history=[ReportRead.model_validate(r).model_dump(mode="json") for r in history],
    )


@router.get("/v1/indicators/{indicator_id}", summary="One indicator with progress and history")
async def get_indicator(
    indicator_id: uuid.UUID, session: SessionDep, request: Request
) -> IndicatorDetail:
    indicator = await service.get_indicator(session, indicator_id)
    return await _detail(session, indicator, _settings(request))


@router.get("/v1/plans/{plan_ref}/dashboard", summary="Counts by status and department, 民生实事")
async def dashboard(plan_ref: str, session: SessionDep) -> Dashboard:
    plan = await service.get_plan(session, plan_ref)
    indicators = await service.plan_indicators(session, plan.id)
    departments: dict[str, list[IndicatorStatus]] = defaultdict(list)
    projects: dict[int, list[Indicator]] = defaultdict(list)
    for i in indicators:
        departments[i.lead_department or "(unassigned)"].append(i.status)
        if i.livelihood_project and i.livelihood_number is not None:
            projects[i.livelihood_number].append(i)
    return Dashboard(
        plan=PlanRead.model_validate(plan),
        total=len(indicators),
        by_status=service.status_counts([i.status for i in indicators]),
        by_department=[
            DepartmentSummary(
                department=name, total=len(statuses), by_status=service.status_counts(statuses)
            )
            for name, statuses in sorted(departments.items())
        ],
        livelihood_projects=[
            LivelihoodProject(
                number=number,
                indicators=len(items),
                achieved=sum(i.status is IndicatorStatus.ACHIEVED for i in items),
                by_status=service.status_counts([i.status for i in items]),
                items=[IndicatorRead.model_validate(i) for i in items],
            )
            for number, items in sorted(projects.items())
        ],
    )


@router.get(
    "/v1/plans/{plan_ref}/export",
    summary="Export the plan's indicators with their progress (CSV or XLSX)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, export.XLSX_MEDIA_TYPE: {}}}},
)
async def export_plan(
    plan_ref: str,
    session: SessionDep,
    request: Request,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    settings = _settings(request)
    plan = await service.get_plan(session, plan_ref)
    rows = []
    for i in await service.plan_indicators(session, plan.id):
        evaluation = await service.evaluate(session, i, today_in_china(), settings)
        rows.append(
            {
                **IndicatorRead.model_validate(i).model_dump(),
                "target": i.target_value,
                "value": evaluation.value if evaluation.value is not None else evaluation.done,
                "expected_by_now": evaluation.result.expected_by_now,
                "as_of": evaluation.as_of,
                "status": evaluation.result.status.value,
            }
        )
    if format == "xlsx":
        content, media = export.to_xlsx(rows, plan.code), export.XLSX_MEDIA_TYPE
    else:
        content, media = export.to_csv(rows), "text/csv; charset=utf-8"
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{plan.code}.{format}"'},
    )
