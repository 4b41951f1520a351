"""A recipient: a person or a group (a unit's duty desk, a chat group) that is told things."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import DateTime, Integer, String, Text, Time, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import str_enum
from notifier.db import Base


class RecipientKind(StrEnum):
    PERSON = "person"
    GROUP = "group"  # e.g. a unit's duty desk or its WeCom/DingTalk group


class Recipient(Base):
    __tablename__ = "recipients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[RecipientKind] = mapped_column(str_enum(RecipientKind, "recipient_kind"))
    name: Mapped[str] = mapped_column(String(200))
    # The id events use for this person (supervisor_id, actor …), or "petitioner:<case id>".
    user_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    org_unit_id: Mapped[str | None] = mapped_column(String(100), index=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    # Addresses, one per channel; a channel without its address is never used. Stored as
    # ciphertexts bound to (recipient, field): see notifier.privacy.
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    wecom_webhook_url: Mapped[str | None] = mapped_column(Text)
    dingtalk_webhook_url: Mapped[str | None] = mapped_column(Text)
    # DingTalk's 加签 secret ("SEC…"); needed when the robot has signing switched on. Encrypted.
    dingtalk_secret: Mapped[str | None] = mapped_column(Text)
    # The webhook's signing secret ("whsec_…", generated here, shown once), and after a
    # rotation the previous one, which still signs until webhook_previous_secret_expires_at.
    # Both encrypted (see notifier.recipients.webhook_secrets).
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    webhook_previous_secret: Mapped[str | None] = mapped_column(Text)
    webhook_previous_secret_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True)
    )
    # Preferences: the channels this recipient wants (empty: every channel with an address),
    # and quiet hours (China time) during which non-urgent messages wait.
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
