"""What the deliveries API returns."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from gov_common.security.crypto import DecryptionError, FieldCipher
from notifier.deliveries.models import Delivery, DeliveryStatus
from notifier.privacy import delivery_context, mask_delivery_address


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    event_id: str
    event_type: str
    subject: str | None
    rule: str
    rule_id: UUID | None
    recipient: str = Field(
        description="the address used, masked (138****0000, l***@example.cn, https://host/***); "
        "whom it went to is recipient_id"
    )
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

    @classmethod
    def of(cls, delivery: Delivery, cipher: FieldCipher) -> DeliveryRead:
        """The delivery with its (encrypted) address shown masked, to every role: the full
        address is the recipient's, which admins read under /v1/recipients."""
        try:
            address = cipher.decrypt(delivery.recipient, context=delivery_context(delivery.id))
            shown = mask_delivery_address(delivery.channel, address)
        except (DecryptionError, ValueError):
            shown = "***"
        return cls.model_validate(delivery).model_copy(update={"recipient": shown})
