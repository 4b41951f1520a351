"""HTTP routes for progress reports and their review."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from gov_common.app import SessionDep
from gov_common.idempotency import IdempotencyKeyHeader
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.setup import PrincipalDep
from targets_api.db import idempotency
from targets_api.progress import service
from targets_api.progress.schemas import ReportCreate, ReportRead, ReportReview

router = APIRouter(tags=["progress"], responses={**PROBLEM_RESPONSES, 403: {}})


@router.post(
    "/v1/indicators/{indicator_id}/reports",
    status_code=201,
    summary="Report progress for your department (a correction names the report it supersedes)",
    description="The reporting department is the caller's org unit; it must lead or "
    "co-organise the indicator (403 otherwise).",
    response_model=ReportRead,
)
async def report_progress(
    indicator_id: uuid.UUID,
    body: ReportCreate,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ReportRead | Response:
    async def create() -> tuple[ReportRead, str]:
        report = await service.report_progress(
            session, indicator_id, body, reporter=principal, settings=request.app.state.settings
        )
        return ReportRead.model_validate(report), f"/v1/reports/{report.id}"

    guard = idempotency(session, request, principal, idempotency_key, body)
    return await guard.created(create, response)


@router.get("/v1/indicators/{indicator_id}/reports", summary="Every report, newest first")
async def list_reports(indicator_id: uuid.UUID, session: SessionDep) -> list[ReportRead]:
    return [ReportRead.model_validate(r) for r in await service.history(session, indicator_id)]


@router.post("/v1/reports/{report_id}/approval", summary="The planning office approves a report")
async def approve(
    report_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    body: ReportReview | None = None,
) -> ReportRead:
    report = await service.review_report(
        session,
        report_id,
        body or ReportReview(),
        reviewer=principal,
        approve=True,
        settings=request.app.state.settings,
    )
    return ReportRead.model_validate(report)


@router.post("/v1/reports/{report_id}/return", summary="The planning office returns a report")
async def return_report(
    report_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    body: ReportReview | None = None,
) -> ReportRead:
    report = await service.review_report(
        session,
        report_id,
        body or ReportReview(),
        reviewer=principal,
        approve=False,
        settings=request.app.state.settings,
    )
    return ReportRead.model_validate(report)
