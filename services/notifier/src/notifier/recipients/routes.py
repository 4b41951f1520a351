"""HTTP routes for recipients (people and groups, their addresses and preferences)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import any_, literal, select

from gov_common.app import SessionDep
from gov_common.pagination import Page
from gov_common.problems import PROBLEM_RESPONSES
from notifier.concurrency import etag
from notifier.listing import newest_first
from notifier.recipients import service
from notifier.recipients.models import Recipient
from notifier.recipients.schemas import RecipientIn, RecipientRead

router = APIRouter(prefix="/v1/recipients", tags=["recipients"], responses=PROBLEM_RESPONSES)

IfMatch = Annotated[str | None, Header(alias="If-Match")]


@router.post("", status_code=201, summary="Register a recipient")
async def create_recipient(
    body: RecipientIn, session: SessionDep, response: Response
) -> RecipientRead:
    recipient = await service.create_recipient(session, body)
    response.headers["ETag"] = etag(recipient.version)
    response.headers["Location"] = f"/v1/recipients/{recipient.id}"
    return RecipientRead.of(recipient)


@router.get("", summary="List recipients, newest first")
async def list_recipients(
    session: SessionDep,
    org_unit_id: Annotated[str | None, Query(max_length=100)] = None,
    role: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[RecipientRead]:
    query = select(Recipient)
    if org_unit_id is not None:
        query = query.where(Recipient.org_unit_id == org_unit_id)
    if role is not None:
        query = query.where(literal(role) == any_(Recipient.roles))
    rows, next_cursor = await newest_first(session, query, Recipient, limit=limit, cursor=cursor)
    return Page[RecipientRead](items=[RecipientRead.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/{recipient_id}", summary="Read one recipient (with its ETag)")
async def read_recipient(
    recipient_id: UUID, session: SessionDep, response: Response
) -> RecipientRead:
    recipient = await service.get_recipient(session, recipient_id)
    response.headers["ETag"] = etag(recipient.version)
    return RecipientRead.of(recipient)


@router.put("/{recipient_id}", summary="Replace a recipient (If-Match required)")
async def replace_recipient(
    recipient_id: UUID,
    body: RecipientIn,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> RecipientRead:
    recipient = await service.replace_recipient(session, recipient_id, body, if_match=if_match)
    response.headers["ETag"] = etag(recipient.version)
    return RecipientRead.of(recipient)


@router.delete("/{recipient_id}", status_code=204, summary="Delete a recipient (If-Match)")
async def delete_recipient(
    recipient_id: UUID, session: SessionDep, if_match: IfMatch = None
) -> Response:
    await service.delete_recipient(session, recipient_id, if_match=if_match)
    return Response(status_code=204)
