"""What the cases API accepts and returns."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gov_common.clock import today_in_china
from gov_common.events.petitions import (
    CaseKind,
    Channel,
    DeadlineKind,
    DeclineRoute,
    NoticeMeans,
    Rating,
    ReplyOutcome,
    ResolutionLevel,
)
from petitions_api.cases.lifecycle import Action, CaseStatus, RequestKind, ReviewStage

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Reason = Annotated[Text, StringConstraints(max_length=2000)]

_PHONE = re.compile(r"^\+?[0-9][0-9 \-()]{4,30}$")
_ID_NUMBER = re.compile(r"^(\d{15}|\d{17}[\dXx])$")


class PetitionerIn(BaseModel):
    """The person behind the case (信访人/来电人). Personal data: never in events or logs."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, StringConstraints(max_length=100)]
    phone: str | None = Field(default=None, description="mobile or landline, e.g. 13800000000")
    id_number: str | None = Field(default=None, description="居民身份证号码 (18 characters)")
    address: Annotated[Text, StringConstraints(max_length=300)] | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not _PHONE.match(value.strip()):
            raise ValueError("must be a phone number of digits, optionally with +, spaces or -")
        return value.strip() if value else value

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not _ID_NUMBER.match(value):
            raise ValueError("must be an 18-character 居民身份证号码 (17 digits and a digit or X)")
        if len(value) == 18 and not _id_checksum_ok(value):
            raise ValueError("check digit does not match: re-check the ID number")
        return value


def _id_checksum_ok(value: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights, strict=True))
    return "10X98765432"[total % 11] == value[17]


class PlaceIn(BaseModel):
    """Where the matter is (事发地)."""

    model_config = ConfigDict(extra="forbid")

    unit_id: Code | None = Field(default=None, description="org-unit code of the place")
    address: Annotated[Text, StringConstraints(max_length=300)] | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _both_coordinates(self) -> PlaceIn:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


class AttachmentIn(BaseModel):
    """Metadata of a file kept elsewhere (object store); the API never takes the bytes."""

    model_config = ConfigDict(extra="forbid")

    file_name: Annotated[Text, StringConstraints(max_length=200)]
    content_type: Annotated[Text, StringConstraints(max_length=100)]
    size_bytes: int = Field(ge=0, le=1_000_000_000)
    sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    url: Annotated[Text, StringConstraints(max_length=500)] | None = None


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
    category_code: Code | None = Field(default=None, description="see GET /v1/categories")
    petitioner: PetitionerIn | None = Field(
        default=None,
        validate_default=True,
        description="required for petition cases; a hotline caller may stay anonymous",
    )
    place: PlaceIn | None = None
    urgent: bool = False
    group_size: int = Field(default=1, ge=1, le=10000, description="集体访: how many people came")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=50)
    handling_unit_id: Code | None = Field(
        default=None, description="override the category's default routing"
    )
    accused_unit_id: Code | None = Field(
        default=None,
        description="检举控告: the org unit the case accuses, or whose staff it accuses. The "
        "case is then invisible to that unit's people (lists, reads, figures' case lists, "
        "Open311, notifications) and is never dispatched to it",
    )

    @field_validator("received_on")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > today_in_china():
            raise ValueError("must not be in the future")
        return value

    @field_validator("petitioner")
    @classmethod
    def _petition_has_petitioner(
        cls, value: PetitionerIn | None, info: ValidationInfo
    ) -> PetitionerIn | None:
        if value is None and info.data.get("kind") is CaseKind.PETITION_CASE:
            raise ValueError("a petition case (信访件) needs the petitioner: give petitioner.name")
        return value


class DeadlineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: DeadlineKind
    started_at: datetime
    due_on: date | None
    due_at: datetime
    met_at: datetime | None
    cancelled_at: datetime | None
    provisional: bool = Field(
        default=False,
        description="暂定: the date rests on a year whose official holiday schedule is not known "
        "yet (only the rest days fixed by law); it is recomputed when the schedule is entered",
    )


class PendingRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: RequestKind
    unit_id: str | None
    requested_by: str
    requested_at: datetime
    reason: str
    days: int | None


class CaseRead(BaseModel):
    """A case without its petitioner's personal data (see GET /v1/cases/{id}/petitioner)."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    case_number: str
    kind: CaseKind
    channel: Channel
    subject: str
    description: str
    received_on: date
    status: CaseStatus
    version: int
    category_code: str | None
    place_unit_id: str | None
    place_address: str | None
    latitude: float | None
    longitude: float | None
    town_unit_id: str | None
    handling_unit_id: str | None
    urgent: bool
    group_size: int
    attachments: list[dict[str, Any]]
    first_time: bool
    repeat_of: UUID | None
    repeat_score: float | None
    repeat_confirmed: bool
    parent_case_id: UUID | None
    review_stage: ReviewStage
    final: bool
    accepted_on: date | None
    responded_at: datetime | None = None
    extended: bool
    reply_outcome: ReplyOutcome | None
    replied_on: date | None
    on_time: bool | None
    rating: Rating | None
    resolution_unit_id: str | None
    resolution_level: ResolutionLevel | None
    grassroots: bool | None
    effective: bool | None
    resolved_on: date | None
    closed_on: date | None
    supervisor_id: str | None
    supervision_due_on: date | None
    accused_unit_id: str | None = None
    decision_notified_on: date | None = Field(
        default=None, description="a 信访 case: the day the acceptance decision was notified"
    )
    decision_notice_means: NoticeMeans | None = None
    decline_route: DeclineRoute | None = None
    pending_request: PendingRequestRead | None = Field(
        default=None,
        description="a unit's request waiting on a decision: to return the case (decided by "
        "the 信访部门) or to extend it (decided by the unit's head)",
    )
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[Action] = Field(default_factory=list)
    deadlines: list[DeadlineRead] = Field(default_factory=list)


class PetitionerRead(BaseModel):
    """Personal data: in full only for roles that may read it (and then audited), else
    masked (张*, 139****5678, 110105********002X, 城关街道****)."""

    name: str
    phone: str | None
    id_number: str | None
    address: str | None
    masked: bool = Field(description="true when the values are masked for this caller")


class TimelineEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    from_status: str | None
    to_status: str
    actor: str | None
    reason: str | None
    details: dict[str, Any]
    occurred_at: datetime


# ----- bodies of the actions (one model per action; routes are generated from this table) ---


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None


class NoticeIn(BaseModel):
    """The written notice given to the petitioner (书面告知)."""

    model_config = ConfigDict(extra="forbid")

    given_on: date | None = Field(
        default=None, description="the day it was given; today if omitted"
    )
    means: NoticeMeans

    @field_validator("given_on")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > today_in_china():
            raise ValueError("must not be in the future")
        return value


class AcceptBody(ActionBody):
    notice: NoticeIn | None = Field(
        default=None,
        description="a 信访 case: the written notice of acceptance (受理告知), required",
    )


class DeclineBody(ActionBody):
    reason: Reason
    route: DeclineRoute | None = Field(
        default=None,
        description="a 信访 case: the statutory route the matter belongs to instead, required",
    )
    notice: NoticeIn | None = Field(
        default=None, description="a 信访 case: the written notice (不予受理告知), required"
    )


class DispatchBody(ActionBody):
    to_unit_id: Code | None = Field(
        default=None, description="unit to handle it; the category's routing if omitted"
    )


class TakeBody(ActionBody):
    pass


class ReturnBody(ActionBody):
    reason: Reason = Field(description="why the case does not belong to this unit")


class ApproveReturnBody(ActionBody):
    """The 信访部门 agrees and sends the case where it belongs."""

    to_unit_id: Code = Field(description="the unit the case is re-dispatched to")


class RefuseReturnBody(ActionBody):
    reason: Reason = Field(description="why the case stays with the unit")


class RequestExtensionBody(ActionBody):
    days: int = Field(ge=1, le=30, description="1 to 30 days (第三十四条)")
    reason: Reason


class ApproveExtensionBody(ActionBody):
    """The unit's head approves (经本机关、单位负责人批准); the approver is the caller."""

    days: int | None = Field(
        default=None, ge=1, le=30, description="fewer days than asked; as asked if omitted"
    )
    notice: NoticeIn = Field(description="the notice of the extension given to the petitioner")


class RefuseExtensionBody(ActionBody):
    reason: Reason


class ReplyBody(ActionBody):
    outcome: ReplyOutcome
    reply: Annotated[Text, StringConstraints(max_length=20000)] = Field(
        description="the reply given to the petitioner (答复意见)"
    )


class RateBody(ActionBody):
    rating: Rating


class CloseBody(ActionBody):
    pass


class ReopenBody(ActionBody):
    reason: Reason


class ExtendBody(ActionBody):
    """A 12345 ticket's extension, approved by the supervisor who calls it (the approver is
    the caller). A 信访 case is extended by request and the unit head's approval."""

    days: int = Field(
        ge=1,
        le=30,
        description="a 信访 handling clock: 1 to 30 days, once (第三十四条); a 12345 ticket: "
        "working days up to the city's limit; 复查/复核 clocks are not extended",
    )
    reason: Reason


class SuperviseBody(ActionBody):
    """The supervisor (督办人) is the caller."""

    due_on: date


class EscalateBody(ActionBody):
    to_unit_id: Code
    reason: Reason


class RequestReviewBody(ActionBody):
    reason: Reason
    requested_on: date | None = Field(
        default=None,
        description="day the request arrived (收到复查/复核请求之日); today if omitted",
    )
    reply_received_on: date | None = Field(
        default=None,
        description="day the petitioner received the written reply (e.g. from the 送达回证); "
        "the reply's day if omitted. The request is in time when it arrived within 30 days of "
        "this day, the period rolled past rest days (第三十五条、第三十六条)",
    )


ACTION_BODIES: dict[Action, type[ActionBody]] = {
    Action.ACCEPT: AcceptBody,
    Action.DECLINE: DeclineBody,
    Action.DISPATCH: DispatchBody,
    Action.TAKE: TakeBody,
    Action.RETURN: ReturnBody,
    Action.APPROVE_RETURN: ApproveReturnBody,
    Action.REFUSE_RETURN: RefuseReturnBody,
    Action.REPLY: ReplyBody,
    Action.RATE: RateBody,
    Action.CLOSE: CloseBody,
    Action.REOPEN: ReopenBody,
    Action.EXTEND: ExtendBody,
    Action.REQUEST_EXTENSION: RequestExtensionBody,
    Action.APPROVE_EXTENSION: ApproveExtensionBody,
    Action.REFUSE_EXTENSION: RefuseExtensionBody,
    Action.SUPERVISE: SuperviseBody,
    Action.ESCALATE: EscalateBody,
    Action.REQUEST_REVIEW: RequestReviewBody,
}


class RepeatLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repeat_of: UUID
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None
