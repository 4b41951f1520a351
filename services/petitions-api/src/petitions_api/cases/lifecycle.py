"""The case lifecycle as explicit state machines: states, actions, who takes each step.

Pure: no database, no HTTP. A case follows the machine of its *track*:

- **hotline** (12345 工单) — the centre accepts and dispatches (派单), the unit takes (签收),
  may return (退单, straight back to the centre) and replies; extensions are the centre
  supervisor's::

      registered ─accept→ accepted ─dispatch→ dispatched ─take→ in_progress ─reply→ replied
           └decline→ declined        ↑  └──return──┘  (escalate from accepted/dispatched/
                                      └──────────────   in_progress back to accepted)

- **petition** (信访件, 《信访工作条例》第二十二条) — the 信访部门 registers (登记) and within 15
  days forwards or assigns (转送/交办: ``dispatch``) to the organ with authority, or declines
  naming the statutory route; that organ decides acceptance within 15 days of receiving it
  and notifies the petitioner in writing (``accept``/``decline``, 书面告知). A unit that thinks
  it was wrongly routed asks to return it within the window (``return``); the 信访部门 agrees,
  re-dispatching (``approve_return``), or refuses (``refuse_return``) — until then the case
  and its clock stay with the unit. An extension is asked by the unit (``request_extension``)
  and approved or refused by the unit's head (第三十四条: 经本机关、单位负责人批准)::

      registered ─dispatch→ dispatched ─accept→ in_progress ─reply→ replied
           └decline→ declined ←decline┘ (return / approve_return / refuse_return stay)

- **review** (复查/复核, 第三十五条、第三十六条) — opened by a request on a replied case,
  already routed to the organ above the one that replied, on its own 30-day clock::

      registered ─accept→ in_progress ─reply→ replied   (registered ─decline→ declined)

All tracks end alike: replied ─rate→ rated ─close→ closed (replied ─close→ closed when nobody
answers the call-back); rated/closed ─reopen→ in_progress (dissatisfied); request_review on a
replied or closed 信访 case opens the linked 复查/复核 case.

:func:`transition` gives the next state (or raises :class:`ActionNotAllowed`, a 409 listing
the allowed actions), :func:`party` who takes the step, :func:`check_guards` whether the
case's facts allow it (:class:`GuardFailed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from gov_common.events.petitions import CaseKind, Rating


class CaseStatus(StrEnum):
    REGISTERED = "registered"  # 登记
    DECLINED = "declined"  # 不予受理
    ACCEPTED = "accepted"  # 已受理, waiting to be dispatched (派单)
    DISPATCHED = "dispatched"  # 已派单, waiting for the unit to take it (签收)
    IN_PROGRESS = "in_progress"  # 办理中
    REPLIED = "replied"  # 已答复, waiting for the call-back (回访)
    RATED = "rated"  # 已回访评价
    CLOSED = "closed"  # 办结/结案


class Action(StrEnum):
    ACCEPT = "accept"  # 受理 (a 信访 organ: with the written notice, 书面告知)
    DECLINE = "decline"  # 不予受理 (a 信访 case: naming the statutory route)
    DISPATCH = "dispatch"  # 派单 / 转送 / 交办
    TAKE = "take"  # 签收
    RETURN = "return"  # 退单 (a 信访 case: the unit's request, decided by the 信访部门)
    APPROVE_RETURN = "approve_return"  # 同意退回, re-dispatching
    REFUSE_RETURN = "refuse_return"  # 不同意退回: the case stays with the unit
    REPLY = "reply"  # 答复
    RATE = "rate"  # 回访评价
    CLOSE = "close"  # 结案
    REOPEN = "reopen"  # 重办
    EXTEND = "extend"  # 延期 (a 12345 ticket: the centre's supervisor)
    REQUEST_EXTENSION = "request_extension"  # 延期申请 (a 信访 case: the handling unit)
    APPROVE_EXTENSION = "approve_extension"  # 负责人批准延期
    REFUSE_EXTENSION = "refuse_extension"  # 负责人不予批准
    SUPERVISE = "supervise"  # 督办
    ESCALATE = "escalate"  # 提级办理
    REQUEST_REVIEW = "request_review"  # 申请复查/复核


class ReviewStage(StrEnum):
    ORIGINAL = "original"  # 首次办理
    REVIEW = "review"  # 复查
    RE_REVIEW = "re_review"  # 复核


class Track(StrEnum):
    HOTLINE = "hotline"  # 12345 工单
    PETITION = "petition"  # 信访件, first handling
    REVIEW = "review"  # 复查/复核 of a 信访 case


class Party(StrEnum):
    """Who takes a step, in the procedure's words (``security.PARTY_ROLES`` maps to roles)."""

    REGISTRY = "registry"  # the 12345 centre / 信访部门: 登记, 派单/转送/交办, 回访, 结案
    UNIT = "unit"  # the handling unit / the organ with authority (承办单位 / 有权处理的机关)
    UNIT_HEAD = "unit_head"  # the handling unit's head (本机关、单位负责人)
    SUPERVISION = "supervision"  # 督办


def track_of(kind: CaseKind, stage: ReviewStage) -> Track:
    if kind is CaseKind.HOTLINE_TICKET:
        return Track.HOTLINE
    return Track.PETITION if stage is ReviewStage.ORIGINAL else Track.REVIEW


@dataclass(frozen=True)
class Step:
    next: CaseStatus
    by: Party


S, A, P = CaseStatus, Action, Party

# The tail every track shares: from the reply on.
_AFTER_REPLY: dict[tuple[CaseStatus, Action], Step] = {
    (S.REPLIED, A.RATE): Step(S.RATED, P.REGISTRY),
    (S.REPLIED, A.SUPERVISE): Step(S.REPLIED, P.SUPERVISION),
    # the petitioner could not be reached for a call-back
    (S.REPLIED, A.CLOSE): Step(S.CLOSED, P.REGISTRY),
    (S.RATED, A.CLOSE): Step(S.CLOSED, P.REGISTRY),
    (S.RATED, A.REOPEN): Step(S.IN_PROGRESS, P.REGISTRY),
    (S.CLOSED, A.REOPEN): Step(S.IN_PROGRESS, P.REGISTRY),
}
_REVIEWABLE = {
    (S.REPLIED, A.REQUEST_REVIEW): Step(S.REPLIED, P.REGISTRY),
    (S.CLOSED, A.REQUEST_REVIEW): Step(S.CLOSED, P.REGISTRY),
}
# 信访 cases accepted before dispatch (the first release's order) still move on: dispatched
# and taken. New cases never reach ``accepted`` on these tracks.
_ACCEPTED_BEFORE_DISPATCH = {
    (S.ACCEPTED, A.DISPATCH): Step(S.DISPATCHED, P.REGISTRY),
    (S.ACCEPTED, A.SUPERVISE): Step(S.ACCEPTED, P.SUPERVISION),
    (S.DISPATCHED, A.TAKE): Step(S.IN_PROGRESS, P.UNIT),
}

# (state, action) → step, per track. The single source of truth: routes, the 409's allowed
# list and the tests that try every action from every state are all generated from it.
TRANSITIONS: dict[Track, dict[tuple[CaseStatus, Action], Step]] = {
    Track.HOTLINE: {
        (S.REGISTERED, A.ACCEPT): Step(S.ACCEPTED, P.REGISTRY),
        (S.REGISTERED, A.DECLINE): Step(S.DECLINED, P.REGISTRY),
        (S.REGISTERED, A.SUPERVISE): Step(S.REGISTERED, P.SUPERVISION),
        (S.ACCEPTED, A.DISPATCH): Step(S.DISPATCHED, P.REGISTRY),
        (S.ACCEPTED, A.SUPERVISE): Step(S.ACCEPTED, P.SUPERVISION),
        (S.ACCEPTED, A.ESCALATE): Step(S.ACCEPTED, P.SUPERVISION),
        (S.DISPATCHED, A.TAKE): Step(S.IN_PROGRESS, P.UNIT),
        (S.DISPATCHED, A.RETURN): Step(S.ACCEPTED, P.UNIT),
        (S.DISPATCHED, A.SUPERVISE): Step(S.DISPATCHED, P.SUPERVISION),
        (S.DISPATCHED, A.ESCALATE): Step(S.ACCEPTED, P.SUPERVISION),
        (S.IN_PROGRESS, A.REPLY): Step(S.REPLIED, P.UNIT),
        (S.IN_PROGRESS, A.EXTEND): Step(S.IN_PROGRESS, P.SUPERVISION),
        (S.IN_PROGRESS, A.SUPERVISE): Step(S.IN_PROGRESS, P.SUPERVISION),
        (S.IN_PROGRESS, A.ESCALATE): Step(S.ACCEPTED, P.SUPERVISION),
        **_AFTER_REPLY,
    },
    Track.PETITION: {
        (S.REGISTERED, A.DISPATCH): Step(S.DISPATCHED, P.REGISTRY),
        (S.REGISTERED, A.DECLINE): Step(S.DECLINED, P.REGISTRY),
        (S.REGISTERED, A.SUPERVISE): Step(S.REGISTERED, P.SUPERVISION),
        (S.DISPATCHED, A.ACCEPT): Step(S.IN_PROGRESS, P.UNIT),
        (S.DISPATCHED, A.DECLINE): Step(S.DECLINED, P.UNIT),
        (S.DISPATCHED, A.RETURN): Step(S.DISPATCHED, P.UNIT),
        (S.DISPATCHED, A.APPROVE_RETURN): Step(S.DISPATCHED, P.REGISTRY),
        (S.DISPATCHED, A.REFUSE_RETURN): Step(S.DISPATCHED, P.REGISTRY),
        (S.DISPATCHED, A.SUPERVISE): Step(S.DISPATCHED, P.SUPERVISION),
        (S.DISPATCHED, A.ESCALATE): Step(S.DISPATCHED, P.SUPERVISION),
        (S.IN_PROGRESS, A.REPLY): Step(S.REPLIED, P.UNIT),
        (S.IN_PROGRESS, A.REQUEST_EXTENSION): Step(S.IN_PROGRESS, P.UNIT),
        (S.IN_PROGRESS, A.APPROVE_EXTENSION): Step(S.IN_PROGRESS, P.UNIT_HEAD),
        (S.IN_PROGRESS, A.REFUSE_EXTENSION): Step(S.IN_PROGRESS, P.UNIT_HEAD),
        (S.IN_PROGRESS, A.SUPERVISE): Step(S.IN_PROGRESS, P.SUPERVISION),
        (S.IN_PROGRESS, A.ESCALATE): Step(S.IN_PROGRESS, P.SUPERVISION),
        **_ACCEPTED_BEFORE_DISPATCH,
        **_AFTER_REPLY,
        **_REVIEWABLE,
    },
    Track.REVIEW: {
        (S.REGISTERED, A.ACCEPT): Step(S.IN_PROGRESS, P.UNIT),
        (S.REGISTERED, A.DECLINE): Step(S.DECLINED, P.UNIT),
        (S.REGISTERED, A.SUPERVISE): Step(S.REGISTERED, P.SUPERVISION),
        (S.IN_PROGRESS, A.REPLY): Step(S.REPLIED, P.UNIT),
        (S.IN_PROGRESS, A.SUPERVISE): Step(S.IN_PROGRESS, P.SUPERVISION),
        **_ACCEPTED_BEFORE_DISPATCH,
        **_AFTER_REPLY,
        **_REVIEWABLE,
    },
}

OPEN_STATES = frozenset({S.REGISTERED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REPLIED, S.RATED})
FINAL_STATES = frozenset({S.DECLINED, S.CLOSED})


class RequestKind(StrEnum):
    """A unit's request a step waits on (申请), decided by another party."""

    RETURN = "return"  # 退回申请, decided by the 信访部门
    EXTENSION = "extension"  # 延期申请, decided by the unit's head


# The decisions a pending request opens, and the request each answers.
DECISIONS = {
    A.APPROVE_RETURN: RequestKind.RETURN,
    A.REFUSE_RETURN: RequestKind.RETURN,
    A.APPROVE_EXTENSION: RequestKind.EXTENSION,
    A.REFUSE_EXTENSION: RequestKind.EXTENSION,
}
REQUESTS = {
    (Track.PETITION, A.RETURN): RequestKind.RETURN,
    (Track.PETITION, A.REQUEST_EXTENSION): RequestKind.EXTENSION,
}


@dataclass(frozen=True)
class Position:
    """What decides which steps a case offers: its track, state and pending request."""

    track: Track
    status: CaseStatus
    pending: RequestKind | None = None
    accepted: bool = False  # accepted (受理) already: a case accepted before dispatch


def position(
    kind: CaseKind,
    stage: ReviewStage,
    status: CaseStatus,
    *,
    pending: RequestKind | None = None,
    accepted: bool = False,
) -> Position:
    return Position(track_of(kind, stage), status, pending, accepted)


def _offered(where: Position, action: Action) -> bool:
    """A step the state allows that the case's position offers now."""
    decided = DECISIONS.get(action)
    if decided is not None:
        return where.pending is decided
    if (where.track, action) in REQUESTS:
        return where.pending is None
    if where.track is not Track.HOTLINE and where.status is S.DISPATCHED:
        # A case accepted before dispatch is taken; any other is accepted (受理).
        if action is A.TAKE:
            return where.accepted
        if action in (A.ACCEPT, A.DECLINE):
            return not where.accepted
    return True


class ActionNotAllowed(Exception):  # noqa: N818 - reads as the domain's sentence
    def __init__(self, where: Position, action: Action) -> None:
        super().__init__(f"{action.value} is not allowed while the case is {where.status.value}")
        self.status = where.status
        self.action = action
        self.allowed = allowed_actions(where)


class GuardFailed(Exception):  # noqa: N818
    """The state allows the action but the case's facts do not (e.g. a second extension)."""


def allowed_actions(where: Position) -> list[Action]:
    return [
        action
        for (state, action) in TRANSITIONS[where.track]
        if state is where.status and _offered(where, action)
    ]


def step_of(where: Position, action: Action) -> Step:
    step = TRANSITIONS[where.track].get((where.status, action))
    if step is None or not _offered(where, action):
        raise ActionNotAllowed(where, action)
    return step


def transition(where: Position, action: Action) -> CaseStatus:
    return step_of(where, action).next


def party(where: Position, action: Action) -> Party:
    return step_of(where, action).by


@dataclass(frozen=True)
class CaseFacts:
    """What the guards need to know about a case."""

    kind: CaseKind
    status: CaseStatus
    today: date
    extended: bool = False
    rating: Rating | None = None
    replied_on: date | None = None
    review_stage: ReviewStage = ReviewStage.ORIGINAL
    review_requested: bool = False
    final_matter: bool = False  # a repeat of a matter concluded by 复核
    return_due_on: date | None = None
    # Units that asked to return the case and were refused: they do not ask again.
    refused_returns: frozenset[str] = field(default_factory=frozenset)
    handling_unit_id: str | None = None
    # A 复查/复核 request: the day the reply reached the petitioner, the day the request
    # arrived, and the last day of the window (deadlines.clocks.REVIEW_REQUEST_WINDOW, rolled
    # past rest days).
    reply_received_on: date | None = None
    requested_on: date | None = None
    review_window_ends_on: date | None = None


def check_guards(action: Action, facts: CaseFacts) -> None:
    """Raise :class:`GuardFailed` with a message that says what is wrong. (How long an
    extension may be is the clock's rule: ``deadlines.clocks``.)"""
    track = track_of(facts.kind, facts.review_stage)
    if action in (A.ACCEPT, A.DISPATCH) and facts.final_matter and track is Track.PETITION:
        raise GuardFailed(
            "the same matter was concluded after 复核 and is not accepted again (第三十六条); "
            "decline it, or unlink the repeat if it is a different matter"
        )
    if action in (A.EXTEND, A.REQUEST_EXTENSION, A.APPROVE_EXTENSION) and facts.extended:
        raise GuardFailed("the handling deadline was already extended once")
    if action is A.RETURN:
        if facts.return_due_on is not None and facts.today > facts.return_due_on:
            raise GuardFailed(f"the window for returning the case ended on {facts.return_due_on}")
        if facts.handling_unit_id in facts.refused_returns:
            raise GuardFailed(
                "the 信访部门 refused this unit's request to return the case; it handles it"
            )
    if action is A.REOPEN and facts.rating is not Rating.DISSATISFIED:
        raise GuardFailed("only a case rated dissatisfied is reopened")
    if action is A.REQUEST_REVIEW:
        if facts.kind is not CaseKind.PETITION_CASE:
            raise GuardFailed("复查/复核 applies to 信访 petition cases only")
        if facts.review_stage is ReviewStage.RE_REVIEW:
            raise GuardFailed("the 复核 opinion is final: the matter is not reviewed again")
        if facts.review_requested:
            raise GuardFailed("a review of this case was already requested")
        if facts.replied_on is None:
            raise GuardFailed("the case has no reply to review")
        ends, requested = facts.review_window_ends_on, facts.requested_on
        if ends is not None and requested is not None and requested > ends:
            raise GuardFailed(
                "a review is requested within 30 days of receiving the written reply "
                f"(received {facts.reply_received_on}; the period ended on {ends}, rolled past "
                f"rest days); this request arrived on {requested}"
            )


def next_review_stage(stage: ReviewStage) -> ReviewStage:
    return ReviewStage.REVIEW if stage is ReviewStage.ORIGINAL else ReviewStage.RE_REVIEW
