"""A delivery: one notification of one event, by one rule, to one recipient, over one channel."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from notifier.db import Base


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # final: attempts exhausted or the receiver refused for good


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # The dispatcher's scan: due pending deliveries, oldest first.
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            postgresql_where="status = 'pending'",
        ),
        Index("ix_deliveries_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Deterministic from (event, rule, recipient, channel): the same event never makes two.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_id: Mapped[str] = mapped_column(String(200), index=True)
    event_type: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(100))  # the rule's name, or a built-in rule's
    rule_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # None: a built-in rule
    # The address used, encrypted (context deliveries/<id>/recipient): see notifier.privacy.
    recipient: Mapped[str] = mapped_column(Text)
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    channel: Mapped[str] = mapped_column(String(32))
    # Urgent deliveries ignore quiet hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # The last attempt's error; for a failed delivery, the reason it failed.
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    # W3C traceparent of the span that planned it, so the send joins the case's trace.
    traceparent: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
