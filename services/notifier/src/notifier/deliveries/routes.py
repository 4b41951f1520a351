"""HTTP routes for deliveries: their status, for people and systems that ask what happened."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from sqlalchemy import select, tuple_

from gov_common.app import SessionDep
from gov_common.pagination import Page, decode_cursor, encode_cursor
from gov_common.problems import PROBLEM_RESPONSES
from notifier.deliveries import service
from notifier.deliveries.models import Delivery, DeliveryStatus
from notifier.deliveries.schemas import DeliveryRead
from notifier.privacy import CipherDep

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"], responses=PROBLEM_RESPONSES)


@router.get("", summary="List deliveries, newest first")
async def list_deliveries(
    session: SessionDep,
    cipher: CipherDep,
    event_id: Annotated[str | None, Query(max_length=200)] = None,
    status: DeliveryStatus | None = None,
    rule_id: UUID | None = None,
    recipient_id: UUID | None = None,
    channel: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[DeliveryRead]:
    query = select(Delivery).order_by(Delivery.created_at.desc(), Delivery.id.desc())
    if event_id is not None:
        query = query.where(Delivery.event_id == event_id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if rule_id is not None:
        query = query.where(Delivery.rule_id == rule_id)
    if recipient_id is not None:
        query = query.where(Delivery.recipient_id == recipient_id)
    if channel is not None:
        query = query.where(Delivery.channel == channel)
    if cursor is not None:
        created_at, last_id = decode_cursor(cursor, datetime, UUID)
        query = query.where(tuple_(Delivery.created_at, Delivery.id) < (created_at, last_id))
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].created_at.isoformat(), str(rows[-1].id)])
    return Page[DeliveryRead](
        items=[DeliveryRead.of(r, cipher) for r in rows], next_cursor=next_cursor
    )


@router.get("/{delivery_id}", summary="Read one delivery")
async def read_delivery(delivery_id: UUID, session: SessionDep, cipher: CipherDep) -> DeliveryRead:
    return DeliveryRead.of(await service.get_delivery(session, delivery_id), cipher)


@router.post(
    "/{delivery_id}/retry",
    status_code=202,
    summary="Try a failed delivery again (a fresh set of attempts)",
)
async def retry_delivery(
    delivery_id: UUID, session: SessionDep, request: Request, cipher: CipherDep
) -> DeliveryRead:
    delivery = await service.retry_delivery(session, delivery_id)
    request.app.state.dispatcher.wake()
    return DeliveryRead.of(delivery, cipher)
