"""The case lifecycle as an explicit state machine: states, actions, transitions, guards.

Pure: no database, no HTTP. The service asks :func:`transition` for the next state and
:func:`check_guards` whether the facts of the case allow the action; both raise
:class:`ActionNotAllowed` (→ 409 listing the allowed actions) or :class:`GuardFailed`.

    registered ─accept→ accepted ─dispatch→ dispatched ─take→ in_progress ─reply→ replied
        │                 ↑  ↑                 │                                  │
        └decline→ declined │  └────return──────┘                                 rate
                           └──────────── escalate (from accepted/dispatched/in_progress)
    replied ─rate→ rated ─close→ closed (replied ─close→ closed when nobody answers the
    call-back);  rated/closed ─reopen→ in_progress (dissatisfied)
    extend (once) and supervise keep the state; request_review opens a linked 复查/复核 case.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    ACCEPT = "accept"  # 受理
    DECLINE = "decline"  # 不予受理
    DISPATCH = "dispatch"  # 派单 / 转办 / 交办
    TAKE = "take"  # 签收
    RETURN = "return"  # 退单
    REPLY = "reply"  # 答复
    RATE = "rate"  # 回访评价
    CLOSE = "close"  # 结案
    REOPEN = "reopen"  # 重办
    EXTEND = "extend"  # 延期
    SUPERVISE = "supervise"  # 督办
    ESCALATE = "escalate"  # 提级办理
    REQUEST_REVIEW = "request_review"  # 申请复查/复核


class ReviewStage(StrEnum):
    ORIGINAL = "original"  # 首次办理
    REVIEW = "review"  # 复查
    RE_REVIEW = "re_review"  # 复核


S, A = CaseStatus, Action

# (state, action) → next state. The single source of truth: routes, the 409's allowed list
# and the tests that try every action from every state are all generated from it.
TRANSITIONS: dict[tuple[CaseStatus, Action], CaseStatus] = {
    (S.REGISTERED, A.ACCEPT): S.ACCEPTED,
    (S.REGISTERED, A.DECLINE): S.DECLINED,
    (S.REGISTERED, A.SUPERVISE): S.REGISTERED,
    (S.ACCEPTED, A.DISPATCH): S.DISPATCHED,
    (S.ACCEPTED, A.SUPERVISE): S.ACCEPTED,
    (S.ACCEPTED, A.ESCALATE): S.ACCEPTED,
    (S.DISPATCHED, A.TAKE): S.IN_PROGRESS,
    (S.DISPATCHED, A.RETURN): S.ACCEPTED,
    (S.DISPATCHED, A.SUPERVISE): S.DISPATCHED,
    (S.DISPATCHED, A.ESCALATE): S.ACCEPTED,
    (S.IN_PROGRESS, A.REPLY): S.REPLIED,
    (S.IN_PROGRESS, A.EXTEND): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.SUPERVISE): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.ESCALATE): S.ACCEPTED,
    (S.REPLIED, A.RATE): S.RATED,
    (S.REPLIED, A.SUPERVISE): S.REPLIED,
    (S.REPLIED, A.REQUEST_REVIEW): S.REPLIED,
    (S.REPLIED, A.CLOSE): S.CLOSED,  # the petitioner could not be reached for a call-back
    (S.RATED, A.CLOSE): S.CLOSED,
    (S.RATED, A.REOPEN): S.IN_PROGRESS,
    (S.CLOSED, A.REOPEN): S.IN_PROGRESS,
    (S.CLOSED, A.REQUEST_REVIEW): S.CLOSED,
}

OPEN_STATES = frozenset({S.REGISTERED, S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REPLIED, S.RATED})
FINAL_STATES = frozenset({S.DECLINED, S.CLOSED})


class ActionNotAllowed(Exception):  # noqa: N818 - reads as the domain's sentence
    def __init__(self, status: CaseStatus, action: Action) -> None:
        super().__init__(f"{action.value} is not allowed while the case is {status.value}")
        self.status = status
        self.action = action
        self.allowed = allowed_actions(status)


class GuardFailed(Exception):  # noqa: N818
    """The state allows the action but the case's facts do not (e.g. a second extension)."""


def allowed_actions(status: CaseStatus) -> list[Action]:
    return [action for (state, action) in TRANSITIONS if state is status]


def transition(status: CaseStatus, action: Action) -> CaseStatus:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise ActionNotAllowed(status, action) from None


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
    # A 复查/复核 request: the day the reply reached the petitioner, the day the request
    # arrived, and the last day of the window (deadlines.clocks.REVIEW_REQUEST_WINDOW, rolled
    # past rest days).
    reply_received_on: date | None = None
    requested_on: date | None = None
    review_window_ends_on: date | None = None


def check_guards(action: Action, facts: CaseFacts) -> None:
    """Raise :class:`GuardFailed` with a message that says what is wrong. (How long an
    extension may be is the clock's rule: ``deadlines.clocks``.)"""
    if action is A.ACCEPT and facts.final_matter:
        raise GuardFailed(
            "the same matter was concluded after 复核 and is not accepted again; "
            "decline it, or unlink the repeat if it is a different matter"
        )
    if action is A.EXTEND and facts.extended:
        raise GuardFailed("the handling deadline was already extended once")
    if action is A.RETURN and facts.return_due_on is not None and facts.today > facts.return_due_on:
        raise GuardFailed(f"the window for returning the case ended on {facts.return_due_on}")
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
