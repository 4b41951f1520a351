"""What the cases API accepts and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gov_common.clock import today_in_china
from gov_common.events.petitions import CaseKind, Channel

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: CaseKind = Field(description="hotline_ticket (12345 工单) or petition_case (信访件)")
    channel: Channel = Field(description="how the matter reached us")
    subject: Annotated[Text, StringConstraints(max_length=200)]
    description: Annotated[Text, StringConstraints(max_length=20000)]
    received_on: date | None = Field(
        default=None,
        description="day received (a letter arrives before it is entered); today if omitted",
    )

    @field_validator("received_on")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > today_in_china():
            raise ValueError("must not be in the future")
        return value


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    case_number: str
    kind: CaseKind
    channel: Channel
    subject: str
    description: str
    received_on: date
    status: str
    created_at: datetime
    updated_at: datetime
