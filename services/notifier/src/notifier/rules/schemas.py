"""What the rules API takes and returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from notifier.channels.base import ChannelName


class FilterOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    PREFIX = "prefix"  # org-unit codes are hierarchical: a town's prefix covers its villages
    EXISTS = "exists"
    GTE = "gte"
    LTE = "lte"


Scalar = str | int | float | bool


class Filter(BaseModel):
    """One condition on a payload field (or ``event.subject`` / ``event.source``)."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=100)
    op: FilterOp = FilterOp.EQ
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Self:
        if self.op in (FilterOp.IN, FilterOp.NOT_IN):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op.value!r} needs a non-empty list as value")
        elif self.op is FilterOp.EXISTS:
            if not isinstance(self.value, bool):
                raise ValueError("op 'exists' needs true or false as value")
        elif self.op is FilterOp.PREFIX:
            if not isinstance(self.value, str) or not self.value:
                raise ValueError("op 'prefix' needs a non-empty string as value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op.value!r} needs one value (string, number or boolean)")
        return self


class FixedRecipient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["fixed"]
    recipient_id: UUID


class UnitRecipients(BaseModel):
    """Recipients of the unit named by an event field (the case's handling unit …)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["handling_unit", "indicator_departments"]
    role: str | None = Field(default=None, max_length=50, description="only recipients with it")
    field: str | None = Field(
        default=None,
        description='event field naming the unit(s); default "handling_unit_id" / "department_ids"',
    )


class PersonRecipient(BaseModel):
    """The person an event names: its supervisor, or the case's petitioner."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["supervisor", "petitioner"]
    field: str | None = Field(
        default=None, description='event field; default "supervisor_id" / "case_id"'
    )


RecipientSelector = Annotated[
    FixedRecipient | UnitRecipients | PersonRecipient, Field(discriminator="source")
]

DEFAULT_FIELDS = {
    "handling_unit": "handling_unit_id",
    "indicator_departments": "department_ids",
    "supervisor": "supervisor_id",
    "petitioner": "case_id",
}


def selector_field(selector: UnitRecipients | PersonRecipient) -> str:
    return selector.field or DEFAULT_FIELDS[selector.source]


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str | None = Field(default=None, max_length=1000)
    event_type: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    filters: list[Filter] = Field(default_factory=list, max_length=20)
    recipients: list[RecipientSelector] = Field(min_length=1, max_length=50)
    channels: list[ChannelName] = Field(min_length=1)
    template_id: UUID | None = Field(
        default=None, description="a template for the same event type; none: a generic message"
    )
    urgent: bool = False

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels lists a channel twice")
        return self

    def columns(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"template_id": self.template_id}


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    description: str | None
    event_type: str
    enabled: bool
    filters: list[Filter]
    recipients: list[RecipientSelector]
    channels: list[ChannelName]
    template_id: UUID | None
    urgent: bool
    version: int
    created_at: datetime
    updated_at: datetime
