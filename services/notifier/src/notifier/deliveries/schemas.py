"""What the deliveries API returns."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from notifier.deliveries.models import DeliveryStatus


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    event_id: str
    event_type: str
    subject: str | None
    rule: str
    rule_id: UUID | None
    recipient: str
    recipient_id: UUID | None
    channel: str
    urgent: bool
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = Field(description="the last attempt's error; when failed, why")
    response_status: int | None
    created_at: datetime
    delivered_at: datetime | None
