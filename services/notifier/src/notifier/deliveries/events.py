"""Delivery outcome events, written to the outbox with the delivery's final state.

``topic`` is the prefixed name of notifier.delivery-events (``settings.topic(...)``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent, new_event
from gov_common.events.notifier import (
    DELIVERY_FAILED_V1,
    DELIVERY_SUCCEEDED_V1,
    DeliveryFailedV1,
    DeliverySucceededV1,
)
from gov_common.messaging.outbox import add_many_to_outbox
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


def succeeded_event(delivery: Delivery, *, attempts: int, at: datetime | None = None) -> CloudEvent:
    payload = DeliverySucceededV1.model_validate(
        _common(delivery, attempts) | {"delivered_at": at or datetime.now(UTC)}
    )
    return _event(delivery, DELIVERY_SUCCEEDED_V1, payload)


def failed_event(
    delivery: Delivery, *, attempts: int, reason: str, at: datetime | None = None
) -> CloudEvent:
    payload = DeliveryFailedV1.model_validate(
        _common(delivery, attempts) | {"reason": reason, "failed_at": at or datetime.now(UTC)}
    )
    return _event(delivery, DELIVERY_FAILED_V1, payload)


async def delivery_succeeded(
    session: AsyncSession,
    delivery: Delivery,
    *,
    topic: str,
    attempts: int,
    at: datetime | None = None,
) -> None:
    await write(session, topic, [succeeded_event(delivery, attempts=attempts, at=at)])


async def delivery_failed(
    session: AsyncSession,
    delivery: Delivery,
    *,
    topic: str,
    attempts: int,
    reason: str,
    at: datetime | None = None,
) -> None:
    event = failed_event(delivery, attempts=attempts, reason=reason, at=at)
    await write(session, topic, [event])


def _event(
    delivery: Delivery, event_type: str, payload: DeliverySucceededV1 | DeliveryFailedV1
) -> CloudEvent:
    return new_event(source=SOURCE, type=event_type, subject=str(delivery.id), data=payload)


async def write(session: AsyncSession, topic: str, outcomes: list[CloudEvent]) -> None:
    """Outcome events of several deliveries in one INSERT, keyed by delivery (the subject)."""
    await add_many_to_outbox(
        session, OutboxMessage, [(topic, event.subject, event) for event in outcomes]
    )
