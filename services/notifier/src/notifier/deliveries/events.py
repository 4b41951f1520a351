"""Delivery outcome events, written to the outbox with the delivery's final state.

``topic`` is the prefixed name of notifier.delivery-events (``settings.topic(...)``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import new_event
from gov_common.events.notifier import (
    DELIVERY_FAILED_V1,
    DELIVERY_SUCCEEDED_V1,
    DeliveryFailedV1,
    DeliverySucceededV1,
)
from gov_common.messaging.outbox import add_to_outbox
from notifier.db import OutboxMessage
from notifier.deliveries.models import Delivery

SOURCE = "/gov/notifier"


def _common(delivery: Delivery, attempts: int) -> dict[str, object]:
    return {
        "delivery_id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "rule_id": str(delivery.rule_id) if delivery.rule_id else delivery.rule,
        "channel": delivery.channel,
        "recipient_id": delivery.recipient_id,
        "attempts": max(attempts, 1),
    }


async def delivery_succeeded(
    session: AsyncSession,
    delivery: Delivery,
    *,
    topic: str,
    attempts: int,
    at: datetime | None = None,
) -> None:
    payload = DeliverySucceededV1.model_validate(
        _common(delivery, attempts) | {"delivered_at": at or datetime.now(UTC)}
    )
    await _write(session, delivery, topic, DELIVERY_SUCCEEDED_V1, payload)


async def delivery_failed(
    session: AsyncSession,
    delivery: Delivery,
    *,
    topic: str,
    attempts: int,
    reason: str,
    at: datetime | None = None,
) -> None:
    payload = DeliveryFailedV1.model_validate(
        _common(delivery, attempts) | {"reason": reason, "failed_at": at or datetime.now(UTC)}
    )
    await _write(session, delivery, topic, DELIVERY_FAILED_V1, payload)


async def _write(
    session: AsyncSession,
    delivery: Delivery,
    topic: str,
    event_type: str,
    payload: DeliverySucceededV1 | DeliveryFailedV1,
) -> None:
    event = new_event(source=SOURCE, type=event_type, subject=str(delivery.id), data=payload)
    await add_to_outbox(session, OutboxMessage, topic=topic, key=str(delivery.id), event=event)
