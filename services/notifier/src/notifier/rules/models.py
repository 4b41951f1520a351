"""A rule (订阅规则): which events, filtered how, go to whom, over which channels, how worded."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from notifier.db import Base


class Rule(Base):
    __tablename__ = "rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(1000))
    event_type: Mapped[str] = mapped_column(String(200), index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # [{"field": "handling_unit_id", "op": "prefix", "value": "610203"}, …] — all must hold.
    filters: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # [{"source": "handling_unit", "role": "handler"}, {"source": "fixed", "recipient_id": …}]
    recipients: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    template_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("templates.id", ondelete="RESTRICT"), index=True
    )
    # Urgent messages ignore quiet hours; an event with "urgent": true is urgent too.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
