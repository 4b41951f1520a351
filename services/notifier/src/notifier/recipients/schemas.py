"""What the recipients API takes and returns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from typing import Self
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from notifier.channels.base import ChannelName
from notifier.recipients.models import RecipientKind

PHONE_PATTERN = r"^\+?[1-9][0-9]{6,14}$"  # E.164, "+86…" for mainland mobiles
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class RecipientIn(BaseModel):
    """A recipient as created or replaced (PUT)."""

    model_config = ConfigDict(extra="forbid")

    kind: RecipientKind
    name: str = Field(min_length=1, max_length=200)
    user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="id events use for this person (e.g. supervisor_id), or petitioner:<case id>",
    )
    org_unit_id: str | None = Field(default=None, min_length=1, max_length=100)
    roles: list[str] = Field(default_factory=list, max_length=20)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    email: str | None = Field(default=None, max_length=320, pattern=EMAIL_PATTERN)
    webhook_url: AnyHttpUrl | None = None
    wecom_webhook_url: AnyHttpUrl | None = Field(
        default=None, description="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"
    )
    dingtalk_webhook_url: AnyHttpUrl | None = Field(
        default=None, description="https://oapi.dingtalk.com/robot/send?access_token=…"
    )
    dingtalk_secret: str | None = Field(default=None, min_length=1, max_length=200)
    channels: list[ChannelName] = Field(
        default_factory=list, description="preferred channels; empty: every one with an address"
    )
    quiet_start: time | None = Field(default=None, description="China time, e.g. 22:00")
    quiet_end: time | None = Field(default=None, description="China time, e.g. 07:30")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet hours need both quiet_start and quiet_end, or neither")
        if self.quiet_start is not None and self.quiet_start == self.quiet_end:
            raise ValueError("quiet_start and quiet_end must differ")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel twice")
        for channel in self.channels:
            if self.address(channel) is None:
                raise ValueError(
                    f"channel {channel.value!r} is preferred but its address "
                    f"({ADDRESS_FIELDS[channel]}) is not set"
                )
        if self.dingtalk_secret is not None and self.dingtalk_webhook_url is None:
            raise ValueError("dingtalk_secret given without dingtalk_webhook_url")
        if any(not role.strip() or len(role) > 50 for role in self.roles):
            raise ValueError("roles must be non-empty names of at most 50 characters")
        return self

    def address(self, channel: ChannelName) -> str | None:
        value = getattr(self, ADDRESS_FIELDS[channel])
        return str(value) if value is not None else None

    def columns(self) -> dict[str, object]:
        data = self.model_dump(mode="json")
        data["quiet_start"], data["quiet_end"] = self.quiet_start, self.quiet_end
        return data


ADDRESS_FIELDS: dict[ChannelName, str] = {
    ChannelName.WEBHOOK: "webhook_url",
    ChannelName.EMAIL: "email",
    ChannelName.SMS: "phone",
    ChannelName.WECOM: "wecom_webhook_url",
    ChannelName.DINGTALK: "dingtalk_webhook_url",
}


class RecipientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: RecipientKind
    name: str
    user_id: str | None
    org_unit_id: str | None
    roles: list[str]
    # Addresses: in full for admins (each read audited), masked for everyone else.
    phone: str | None = Field(description="masked (138****0000) unless the caller is an admin")
    email: str | None = Field(description="masked (l***@example.cn) unless the caller is an admin")
    webhook_url: str | None = Field(description="scheme and host only unless an admin")
    wecom_webhook_url: str | None = Field(description="scheme and host only unless an admin")
    dingtalk_webhook_url: str | None = Field(description="scheme and host only unless an admin")
    has_dingtalk_secret: bool = False  # the secret itself is never returned
    has_webhook_secret: bool = Field(
        default=False,
        description="the webhook's signing secret exists; it is returned only once, when "
        "issued (registering the webhook, or rotating)",
    )
    webhook_previous_secret_expires_at: datetime | None = Field(
        default=None,
        description="after a rotation: until when the previous secret still signs as well",
    )
    channels: list[ChannelName]
    quiet_start: time | None
    quiet_end: time | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, recipient: object, shown: Mapping[str, str | None]) -> RecipientRead:
        """``recipient`` (its address columns are ciphertexts) with ``shown`` as its addresses:
        clear or masked, as recipients.service.shown_addresses decided for the caller."""
        read = cls.model_validate(recipient)
        return read.model_copy(
            update={
                **shown,
                "has_dingtalk_secret": getattr(recipient, "dingtalk_secret", None) is not None,
                "has_webhook_secret": getattr(recipient, "webhook_secret", None) is not None,
            }
        )


class RecipientWritten(RecipientRead):
    """The answer to a create or replace: the recipient, and the webhook's signing secret when
    this request registered the webhook — shown this once, never again."""

    webhook_secret: str | None = Field(
        default=None,
        description="whsec_… signing secret of the webhook registered by this request (only "
        "then; store it at the receiver now, it is not shown again)",
    )


class WebhookSecretRotated(BaseModel):
    """A rotated webhook secret, shown this once."""

    recipient_id: UUID
    webhook_secret: str = Field(description="the new current whsec_… secret; not shown again")
    previous_secret_expires_at: datetime | None = Field(
        description="until when the previous secret signs too (messages carry both "
        "signatures); null when there was no previous secret or no overlap is configured"
    )
    version: int
