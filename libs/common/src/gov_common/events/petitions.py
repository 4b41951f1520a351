"""Payloads of ``petitions.case-events``. Events carry ids and only what consumers need:
never a petitioner's name, phone, ID number or address."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from gov_common.events.contracts import PETITIONS_CASE_EVENTS, EventType


class CaseKind(StrEnum):
    HOTLINE_TICKET = "hotline_ticket"  # 12345 工单
    PETITION_CASE = "petition_case"  # 信访件


class Channel(StrEnum):
    HOTLINE_CALL = "hotline_call"
    WEB = "web"  # web or app
    LETTER = "letter"
    VISIT = "visit"
    TRANSFER_FROM_ABOVE = "transfer_from_above"


class CaseCreatedV1(BaseModel):
    model_config = ConfigDict(extra="allow")  # consumers tolerate fields added later

    case_id: UUID
    case_number: str = Field(min_length=1)
    kind: CaseKind
    channel: Channel
    subject: str
    received_on: date
    created_at: datetime


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        name="gov.petitions.case.created.v1",
        topic=PETITIONS_CASE_EVENTS,
        payload=CaseCreatedV1,
        description="A ticket or petition case was registered (登记); no personal data.",
    ),
)
