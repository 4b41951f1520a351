"""Payloads of ``notifier.delivery-events`` (key = delivery id).

One event per delivery reaching a final state. Addresses (phone, email, URLs) are never in
them: a consumer who needs to know whom is told the recipient id.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from gov_common.events.contracts import NOTIFIER_DELIVERY_EVENTS, EventType


class DeliveryOutcomeBase(BaseModel):
    model_config = ConfigDict(extra="allow")  # consumers tolerate fields added later

    delivery_id: UUID
    event_id: str = Field(description="id of the event that was notified")
    event_type: str
    rule_id: str = Field(description="the rule's id, or the name of a built-in rule")
    channel: str = Field(description="webhook, email, sms, wecom or dingtalk")
    recipient_id: UUID | None = Field(
        default=None, description="the recipient; None for a built-in rule's fixed address"
    )
    attempts: int = Field(ge=1)


class DeliverySucceededV1(DeliveryOutcomeBase):
    delivered_at: datetime


class DeliveryFailedV1(DeliveryOutcomeBase):
    """Final: attempts exhausted or the receiver refused for good. Retried only by a person."""

    reason: str
    failed_at: datetime


DELIVERY_SUCCEEDED_V1 = "gov.notifier.delivery.succeeded.v1"
DELIVERY_FAILED_V1 = "gov.notifier.delivery.failed.v1"

EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name=DELIVERY_SUCCEEDED_V1,
        topic=NOTIFIER_DELIVERY_EVENTS,
        payload=DeliverySucceededV1,
        description="A notification reached its receiver (the receiver acknowledged it).",
    ),
    EventType(
        name=DELIVERY_FAILED_V1,
        topic=NOTIFIER_DELIVERY_EVENTS,
        payload=DeliveryFailedV1,
        description="A notification could not be delivered; final, with the reason.",
    ),
)
