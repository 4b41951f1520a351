"""HTTP routes for rules (订阅规则)."""

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
from notifier.rules import service
from notifier.rules.models import Rule
from notifier.rules.schemas import RuleIn, RuleRead

router = APIRouter(prefix="/v1/rules", tags=["rules"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=201,
    response_model=RuleRead,
    summary="Create a rule (unknown event types are refused)",
)
async def create_rule(
    body: RuleIn,
    session: SessionDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RuleRead | Response:
    async def create() -> tuple[RuleRead, str]:
        rule = await service.create_rule(session, body)
        return RuleRead.model_validate(rule), f"/v1/rules/{rule.id}"

    guard = idempotency(session, request, principal, idempotency_key, body)
    return await guard.created(create, response, versioned=True)


@router.get("", summary="List rules, newest first")
async def list_rules(
    session: SessionDep,
    event_type: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[RuleRead]:
    query = select(Rule)
    if event_type is not None:
        query = query.where(Rule.event_type == event_type)
    rows, next_cursor = await newest_first(session, query, Rule, limit=limit, cursor=cursor)
    return Page[RuleRead](items=[RuleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{rule_id}", summary="Read one rule (with its ETag)")
async def read_rule(rule_id: UUID, session: SessionDep, response: Response) -> RuleRead:
    rule = await service.get_rule(session, rule_id)
    response.headers["ETag"] = etag(rule.version)
    return RuleRead.model_validate(rule)


@router.put("/{rule_id}", summary="Replace a rule (If-Match required)")
async def replace_rule(
    rule_id: UUID,
    body: RuleIn,
    session: SessionDep,
    response: Response,
    if_match: IfMatchHeader = None,
) -> RuleRead:
    rule = await service.replace_rule(session, rule_id, body, if_match=if_match)
    response.headers["ETag"] = etag(rule.version)
    return RuleRead.model_validate(rule)


@router.delete("/{rule_id}", status_code=204, summary="Delete a rule (If-Match)")
async def delete_rule(
    rule_id: UUID, session: SessionDep, if_match: IfMatchHeader = None
) -> Response:
    await service.delete_rule(session, rule_id, if_match=if_match)
    return Response(status_code=204)
