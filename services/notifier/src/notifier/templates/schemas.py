"""What the templates API takes and returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notifier.channels.base import ChannelName

DEFAULT_VARIANT = "default"
VARIANT_NAMES = frozenset({DEFAULT_VARIANT, *(c.value for c in ChannelName)})


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(
        default=None, max_length=500, description="email subject / robot title"
    )
    body: str = Field(min_length=1, max_length=20000)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    event_type: str = Field(min_length=1, max_length=200)
    locale: str = Field(default="zh-CN", pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    variants: dict[str, Variant] = Field(
        description='"default" is required; "webhook", "email", "sms", "wecom", "dingtalk" '
        "override it for that channel"
    )

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, variants: dict[str, Variant]) -> dict[str, Variant]:
        unknown = sorted(set(variants) - VARIANT_NAMES)
        if unknown:
            raise ValueError(
                f"unknown variant(s) {', '.join(unknown)}; use {', '.join(sorted(VARIANT_NAMES))}"
            )
        if DEFAULT_VARIANT not in variants:
            raise ValueError('variants must include "default"')
        return variants


class TemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    event_type: str
    locale: str
    variants: dict[str, Variant]
    version: int
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelName | None = Field(default=None, description="which variant; default one")
    data: dict[str, Any] = Field(
        default_factory=dict, description="payload fields to use instead of the sample's"
    )


class PreviewRead(BaseModel):
    channel: str
    subject: str | None
    body: str
    event: dict[str, Any] = Field(description="the sample event the preview rendered")
