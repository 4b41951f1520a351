"""HTTP routes for templates, and the preview that renders one with a sample event."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from gov_common.app import SessionDep
from gov_common.idempotency import IdempotencyKeyHeader
from gov_common.pagination import Page
from gov_common.preconditions import IfMatchHeader, etag
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.setup import PrincipalDep
from notifier.db import idempotency
from notifier.listing import newest_first
from notifier.templates import service
from notifier.templates.models import Template
from notifier.templates.schemas import PreviewIn, PreviewRead, TemplateIn, TemplateRead

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=201,
    response_model=TemplateRead,
    summary="Save a template (unknown variables are refused)",
)
async def create_template(
    body: TemplateIn,
    session: SessionDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> TemplateRead | Response:
    async def create() -> tuple[TemplateRead, str]:
        template = await service.create_template(session, body)
        return TemplateRead.model_validate(template), f"/v1/templates/{template.id}"

    guard = idempotency(session, request, principal, idempotency_key, body)
    return await guard.created(create, response, versioned=True)


@router.get("", summary="List templates, newest first")
async def list_templates(
    session: SessionDep,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[TemplateRead]:
    query = select(Template)
    if event_type is not None:
        query = query.where(Template.event_type == event_type)
    rows, next_cursor = await newest_first(session, query, Template, limit=limit, cursor=cursor)
    return Page[TemplateRead](
        items=[TemplateRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{template_id}", summary="Read one template (with its ETag)")
async def read_template(template_id: UUID, session: SessionDep, response: Response) -> TemplateRead:
    template = await service.get_template(session, template_id)
    response.headers["ETag"] = etag(template.version)
    return TemplateRead.model_validate(template)


@router.put("/{template_id}", summary="Replace a template (If-Match required)")
async def replace_template(
    template_id: UUID,
    body: TemplateIn,
    session: SessionDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> TemplateRead:
    template = await service.replace_template(session, template_id, body, if_match=if_match)
    response.headers["ETag"] = etag(template.version)
    return TemplateRead.model_validate(template)


@router.delete("/{template_id}", status_code=204, summary="Delete a template (If-Match)")
async def delete_template(
    template_id: UUID, session: SessionDep, if_match: IfMatchHeader = None
) -> Response:
    await service.delete_template(session, template_id, if_match=if_match)
    return Response(status_code=204)


@router.post("/{template_id}/preview", summary="Render the template with a sample event")
async def preview_template(template_id: UUID, body: PreviewIn, session: SessionDep) -> PreviewRead:
    return service.preview(await service.get_template(session, template_id), body)
