"""Payloads of ``petitions.case-events`` (key = case id). Events carry ids and only what
consumers need: never a petitioner's name, phone, ID number or address.

Every lifecycle event extends :class:`CaseEventBase`. ``case.created.v1`` predates the base and
keeps its original required fields; the base's fields are optional extras on it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

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


class ReplyOutcome(StrEnum):
    """答复意见: 支持 / 解释说明 / 不支持."""

    SUPPORTED = "supported"
    EXPLAINED = "explained"
    NOT_SUPPORTED = "not_supported"


class Rating(StrEnum):
    """回访评价: 满意 / 基本满意 / 不满意."""

    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class ResolutionLevel(StrEnum):
    """The level of the unit that resolved the case (区 / 部门 / 镇办 / 村社区)."""

    DISTRICT = "district"
    DEPARTMENT = "department"
    TOWN = "town"
    VILLAGE = "village"


class DeadlineKind(StrEnum):
    FORWARDING = "forwarding"  # 转送/交办 by the 信访部门, 15 days from receipt
    ACCEPTANCE = "acceptance"  # 受理告知 by the organ with authority, 15 days from its receipt
    HANDLING = "handling"  # 办理, 60 days (+ one extension ≤ 30)
    RETURN = "return"  # 退单, 5 working days
    REVIEW = "review"  # 复查, 30 days from the request
    RE_REVIEW = "re_review"  # 复核, 30 days from the request
    HOTLINE = "hotline"  # 12345 time limit of the category's tier
    SUPERVISION = "supervision"  # 督办: the due date the supervisor set


class DeclineRoute(StrEnum):
    """Why a 信访 matter is not accepted: the statutory route it belongs to instead
    (《信访工作条例》第三十一条 分类处理; 第三十六条 for a matter concluded by 复核)."""

    LITIGATION_RELATED = "litigation_related"  # 涉法涉诉: 政法机关依法处理
    LITIGATION = "litigation"  # 诉讼
    ARBITRATION = "arbitration"  # 仲裁
    ADMINISTRATIVE_RECONSIDERATION = "administrative_reconsideration"  # 行政复议
    OTHER_ADMINISTRATIVE_PROCEDURE = (
        "other_administrative_procedure"  # 行政裁决、确认、许可、处罚等
    )
    PARTY_DISCIPLINE = "party_discipline"  # 党员申诉、申请复审; 纪检监察 for accusations
    CONCLUDED_BY_RE_REVIEW = "concluded_by_re_review"  # 复核终结, 不再受理 (第三十六条)
    NOT_A_PETITION_MATTER = "not_a_petition_matter"  # 不属于信访事项 (e.g. 12345 consultation)


class NoticeMeans(StrEnum):
    """How the petitioner was told in writing (书面告知)."""

    IN_PERSON = "in_person"  # 当面送达
    POST = "post"  # 邮寄送达
    ONLINE = "online"  # 网上信访平台
    SMS = "sms"  # 短信 (with the written notice's content)


class CaseCreatedV1(BaseModel):
    model_config = ConfigDict(extra="allow")  # consumers tolerate fields added later

    case_id: UUID
    case_number: str = Field(min_length=1)
    kind: CaseKind
    channel: Channel
    subject: str
    received_on: date
    created_at: datetime
    # Optional since the first release of v1; absent in events written before them.
    category_code: str | None = None
    place_unit_id: str | None = None
    handling_unit_id: str | None = None
    first_time: bool | None = Field(default=None, description="初信初访: not a repeat")
    urgent: bool | None = None
    repeat_of: UUID | None = None
    accused_unit_id: str | None = Field(
        default=None,
        description="检举控告: the org unit the case accuses; nothing about the case is "
        "delivered to that unit's people",
    )


class CaseEventBase(BaseModel):
    """Fields every lifecycle event of a case carries."""

    model_config = ConfigDict(extra="allow")

    case_id: UUID
    case_number: str = Field(min_length=1)
    kind: CaseKind
    occurred_at: AwareDatetime
    actor: str | None = Field(default=None, description="user or client id; never personal data")
    handling_unit_id: str | None = Field(
        default=None, description="org-unit code currently responsible"
    )
    category_code: str | None = None
    first_time: bool = Field(description="初信初访: not a repeat of an earlier case")
    accused_unit_id: str | None = Field(
        default=None,
        description="检举控告: the org unit the case accuses (or whose staff it accuses); "
        "nothing about the case is delivered to that unit's people",
    )


PROVISIONAL_DESCRIPTION = (
    "true when the date rests on a year whose official holiday schedule is not yet known "
    "(only the rest days fixed by law): it may still move; absent in events before it existed"
)


class CaseAcceptedV1(CaseEventBase):
    handling_due_on: date
    handling_due_provisional: bool | None = Field(default=None, description=PROVISIONAL_DESCRIPTION)


class CaseDeclinedV1(CaseEventBase):
    reason: str
    route: DeclineRoute | None = Field(
        default=None, description="a 信访 case: the statutory route the matter belongs to"
    )


class CaseDispatchedV1(CaseEventBase):
    to_unit_id: str
    return_due_on: date
    handling_due_on: date | None = None
    return_due_provisional: bool | None = Field(default=None, description=PROVISIONAL_DESCRIPTION)
    handling_due_provisional: bool | None = Field(default=None, description=PROVISIONAL_DESCRIPTION)


class CaseReturnedV1(CaseEventBase):
    from_unit_id: str
    reason: str


class CaseRepliedV1(CaseEventBase):
    outcome: ReplyOutcome


class CaseResolvedV1(CaseEventBase):
    resolved_on: date
    resolution_unit_id: str
    resolution_level: ResolutionLevel
    grassroots: bool
    effective: bool
    town_unit_id: str | None = Field(
        default=None, description="town/sub-district the case belongs to"
    )
    definition_version: str = Field(description="version of the grassroots-resolution definition")


class CaseClosedV1(CaseEventBase):
    closed_on: date
    rating: Rating | None = None


class CaseReopenedV1(CaseEventBase):
    """A reopened case no longer counts as resolved until it is resolved again."""

    reason: str


class CaseEscalatedV1(CaseEventBase):
    to_unit_id: str
    reason: str


class CaseExtendedV1(CaseEventBase):
    new_handling_due_on: date
    reason: str
    approver: str
    provisional: bool | None = Field(default=None, description=PROVISIONAL_DESCRIPTION)


class CaseSupervisedV1(CaseEventBase):
    supervisor_id: str
    due_on: date
    note: str | None = None


class CaseDeadlineAlertV1(CaseEventBase):
    """Shared shape of ``due_soon`` and ``overdue``."""

    deadline: DeadlineKind
    due_at: AwareDatetime
    threshold: str = Field(description='how far before the deadline, e.g. "24h"; "0" when due')
    supervisor_id: str | None = None
    provisional: bool | None = Field(default=None, description=PROVISIONAL_DESCRIPTION)


class CaseDueSoonV1(CaseDeadlineAlertV1):
    pass


class CaseOverdueV1(CaseDeadlineAlertV1):
    pass


class CaseDeadlineChangedV1(CaseEventBase):
    """A running clock's due date moved without anyone acting on the case: the holiday
    schedule of a year it depends on was entered or changed (e.g. the State Council's notice
    replaced the provisional calendar)."""

    deadline: DeadlineKind
    old_due_on: date | None
    new_due_on: date | None
    old_due_at: AwareDatetime
    new_due_at: AwareDatetime
    provisional: bool = Field(description=PROVISIONAL_DESCRIPTION)
    reason: str
    calendar_years: list[int] = Field(description="the years whose schedule the date rests on")


class CaseRequestKind(StrEnum):
    RETURN = "return"  # 退单: the unit thinks the case is not its own
    EXTENSION = "extension"  # 延期申请 (《信访工作条例》第三十四条)


class CaseRequestOpenedV1(CaseEventBase):
    """The handling unit asked for something it may not decide itself; the case waits on it:
    a return on the 信访 registry that dispatched it, an extension on the unit's head
    (经本机关、单位负责人批准). The case and its clock stay with the unit meanwhile."""

    request: CaseRequestKind
    decided_by: Literal["registry", "unit_head"] = Field(
        description="who decides: the 信访 registry (a return) or the handling unit's head "
        "(an extension); a notifier rule sends to them, e.g. the handling unit's recipients "
        "with role unit_head"
    )
    reason: str
    days: int | None = Field(default=None, description="an extension: the days asked for")


class CaseRequestDecidedV1(CaseEventBase):
    """A waiting request was decided. An approved return is followed by ``returned`` and
    ``dispatched``; an approved extension by ``extended``."""

    request: CaseRequestKind
    approved: bool
    requested_by: str = Field(description="who asked (a user or client id)")


class RepeatChange(StrEnum):
    LINKED = "linked"  # an operator linked the case to an earlier one (重复信访)
    CONFIRMED = "confirmed"  # the link found at registration was confirmed
    UNLINKED = "unlinked"  # not a repeat after all: a first-time petition (初信初访)


class CaseRepeatChangedV1(CaseEventBase):
    """Someone decided whether the case repeats an earlier one. ``first_time`` (in the base
    fields) is the case's state after the decision: consumers counting first-time petitions
    (the 80% grassroots figure) follow it."""

    change: RepeatChange
    repeat_of: UUID | None = Field(description="the earlier case it repeats; null once unlinked")
    repeat_confirmed: bool
    was_repeat_of: UUID | None = Field(
        default=None, description="on unlinking: the case it was linked to"
    )


# Type names, so producers and consumers refer to constants rather than strings.
CASE_CREATED_V1 = "gov.petitions.case.created.v1"
CASE_ACCEPTED_V1 = "gov.petitions.case.accepted.v1"
CASE_DECLINED_V1 = "gov.petitions.case.declined.v1"
CASE_DISPATCHED_V1 = "gov.petitions.case.dispatched.v1"
CASE_RETURNED_V1 = "gov.petitions.case.returned.v1"
CASE_REPLIED_V1 = "gov.petitions.case.replied.v1"
CASE_RESOLVED_V1 = "gov.petitions.case.resolved.v1"
CASE_CLOSED_V1 = "gov.petitions.case.closed.v1"
CASE_REOPENED_V1 = "gov.petitions.case.reopened.v1"
CASE_ESCALATED_V1 = "gov.petitions.case.escalated.v1"
CASE_EXTENDED_V1 = "gov.petitions.case.extended.v1"
CASE_SUPERVISED_V1 = "gov.petitions.case.supervised.v1"
CASE_DUE_SOON_V1 = "gov.petitions.case.due_soon.v1"
CASE_OVERDUE_V1 = "gov.petitions.case.overdue.v1"
CASE_DEADLINE_CHANGED_V1 = "gov.petitions.case.deadline_changed.v1"
CASE_REPEAT_CHANGED_V1 = "gov.petitions.case.repeat_changed.v1"
CASE_REQUEST_OPENED_V1 = "gov.petitions.case.request_opened.v1"
CASE_REQUEST_DECIDED_V1 = "gov.petitions.case.request_decided.v1"


def _case_event(name: str, payload: type[BaseModel], description: str) -> EventType:
    return EventType(
        name=name, topic=PETITIONS_CASE_EVENTS, payload=payload, description=description
    )


EVENT_TYPES: tuple[EventType, ...] = (
    _case_event(
        CASE_CREATED_V1,
        CaseCreatedV1,
        "A ticket or petition case was registered (登记); no personal data.",
    ),
    _case_event(CASE_ACCEPTED_V1, CaseAcceptedV1, "The case was accepted (受理)."),
    _case_event(CASE_DECLINED_V1, CaseDeclinedV1, "The case was not accepted (不予受理)."),
    _case_event(CASE_DISPATCHED_V1, CaseDispatchedV1, "The case was dispatched to a unit (派单)."),
    _case_event(CASE_RETURNED_V1, CaseReturnedV1, "A unit returned a wrongly routed case (退单)."),
    _case_event(CASE_REPLIED_V1, CaseRepliedV1, "The petitioner was given a reply (答复)."),
    _case_event(
        CASE_RESOLVED_V1,
        CaseResolvedV1,
        "The matter was resolved (办结): level, grassroots and effectiveness per the definition.",
    ),
    _case_event(CASE_CLOSED_V1, CaseClosedV1, "The case was closed after call-back (回访、结案)."),
    _case_event(
        CASE_REOPENED_V1,
        CaseReopenedV1,
        "The case was reopened (重办); it counts as resolved only once resolved again.",
    ),
    _case_event(CASE_ESCALATED_V1, CaseEscalatedV1, "The case was escalated to a higher level."),
    _case_event(
        CASE_EXTENDED_V1, CaseExtendedV1, "The handling deadline was extended once (延期)."
    ),
    _case_event(CASE_SUPERVISED_V1, CaseSupervisedV1, "A supervisor took the case under 督办."),
    _case_event(CASE_DUE_SOON_V1, CaseDueSoonV1, "A deadline of the case is near (临期预警)."),
    _case_event(CASE_OVERDUE_V1, CaseOverdueV1, "A deadline of the case has passed (超期)."),
    _case_event(
        CASE_DEADLINE_CHANGED_V1,
        CaseDeadlineChangedV1,
        "A running deadline moved because the holiday calendar of its year changed (时限调整).",
    ),
    _case_event(
        CASE_REPEAT_CHANGED_V1,
        CaseRepeatChangedV1,
        "A repeat link was made, confirmed or removed (重复信访认定): first_time may change.",
    ),
    _case_event(
        CASE_REQUEST_OPENED_V1,
        CaseRequestOpenedV1,
        "The handling unit asked to return the case (退单) or to extend it (延期申请); the "
        "registry or the unit's head decides.",
    ),
    _case_event(
        CASE_REQUEST_DECIDED_V1,
        CaseRequestDecidedV1,
        "A return or extension request was approved or refused.",
    ),
)
