"""HTTP routes for rules (订阅规则)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import select

from gov_common.app import SessionDep
from gov_common.pagination import Page
from gov_common.problems import PROBLEM_RESPONSES
from notifier.concurrency import etag
from notifier.listing import newest_first
from notifier.rules import service
from notifier.rules.models import Rule
from notifier.rules.schemas import RuleIn, RuleRead

router = APIRouter(prefix="/v1/rules", tags=["rules"], responses=PROBLEM_RESPONSES)

IfMatch = Annotated[str | None, Header(alias="If-Match")]


@router.post("", status_code=201, summary="Create a rule (unknown event types are refused)")
async def create_rule(body: RuleIn, session: SessionDep, response: Response) -> RuleRead:
    rule = await service.create_rule(session, body)
    response.headers["ETag"] = etag(rule.version)
    response.headers["Location"] = f"/v1/rules/{rule.id}"
    return RuleRead.model_validate(rule)


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
    rule_id: UUID, body: RuleIn, session: SessionDep, response: Response, if_match: IfMatch = None
) -> RuleRead:
    rule = await service.replace_rule(session, rule_id, body, if_match=if_match)
    response.headers["ETag"] = etag(rule.version)
    return RuleRead.model_validate(rule)


@router.delete("/{rule_id}", status_code=204, summary="Delete a rule (If-Match)")
async def delete_rule(rule_id: UUID, session: SessionDep, if_match: IfMatch = None) -> Response:
    await service.delete_rule(session, rule_id, if_match=if_match)
    return Response(status_code=204)
