"""The state machine and its guards, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from gov_common.events.petitions import CaseKind, Rating
from petitions_api.cases.lifecycle import (
    TRANSITIONS,
    Action,
    ActionNotAllowed,
    CaseFacts,
    CaseStatus,
    GuardFailed,
    ReviewStage,
    allowed_actions,
    check_guards,
    transition,
)

TODAY = date(2026, 3, 10)


def facts(**changes: object) -> CaseFacts:
    base: dict[str, object] = {
        "kind": CaseKind.PETITION_CASE,
        "status": CaseStatus.IN_PROGRESS,
        "today": TODAY,
    }
    return CaseFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_every_state_is_reachable_and_final_states_have_no_way_out_but_reopen() -> None:
    reachable = {CaseStatus.REGISTERED}
    frontier = [CaseStatus.REGISTERED]
    while frontier:
        state = frontier.pop()
        for action in allowed_actions(state):
            target = transition(state, action)
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(CaseStatus)
    assert allowed_actions(CaseStatus.DECLINED) == []
    assert set(allowed_actions(CaseStatus.CLOSED)) == {Action.REOPEN, Action.REQUEST_REVIEW}


def test_a_disallowed_action_names_the_allowed_ones() -> None:
    with pytest.raises(ActionNotAllowed) as caught:
        transition(CaseStatus.REGISTERED, Action.REPLY)
    assert caught.value.allowed == [Action.ACCEPT, Action.DECLINE, Action.SUPERVISE]
    assert (CaseStatus.REGISTERED, Action.REPLY) not in TRANSITIONS


def test_only_one_extension() -> None:
    """How long is the clock's rule (deadlines.clocks, tested through the API)."""
    check_guards(Action.EXTEND, facts())
    with pytest.raises(GuardFailed, match="already extended"):
        check_guards(Action.EXTEND, facts(extended=True))


def test_a_return_after_the_window_is_refused() -> None:
    check_guards(Action.RETURN, facts(return_due_on=TODAY))
    with pytest.raises(GuardFailed, match="window for returning the case ended on 2026-03-09"):
        check_guards(Action.RETURN, facts(return_due_on=date(2026, 3, 9)))


def test_reopening_needs_a_dissatisfied_rating() -> None:
    check_guards(Action.REOPEN, facts(rating=Rating.DISSATISFIED))
    with pytest.raises(GuardFailed, match="dissatisfied"):
        check_guards(Action.REOPEN, facts(rating=Rating.BASICALLY_SATISFIED))


def test_reviews_petitions_only_within_30_days_and_never_after_re_review() -> None:
    """第三十五条、第三十六条: within 30 days of receiving the reply, to the day the request
    arrived (the window's end as the service computed it, rolled past rest days)."""
    replied = date(2026, 2, 20)
    check_guards(Action.REQUEST_REVIEW, facts(replied_on=replied))
    window = {"replied_on": replied, "reply_received_on": replied}
    on_time = facts(
        **window, requested_on=date(2026, 3, 23), review_window_ends_on=date(2026, 3, 23)
    )
    check_guards(Action.REQUEST_REVIEW, on_time)
    late = facts(**window, requested_on=date(2026, 3, 24), review_window_ends_on=date(2026, 3, 23))
    with pytest.raises(GuardFailed, match="within 30 days"):
        check_guards(Action.REQUEST_REVIEW, late)
    with pytest.raises(GuardFailed, match="petition cases only"):
        check_guards(Action.REQUEST_REVIEW, facts(kind=CaseKind.HOTLINE_TICKET, replied_on=replied))
    with pytest.raises(GuardFailed, match="final"):
        check_guards(
            Action.REQUEST_REVIEW, facts(review_stage=ReviewStage.RE_REVIEW, replied_on=replied)
        )
    with pytest.raises(GuardFailed, match="already requested"):
        check_guards(Action.REQUEST_REVIEW, facts(replied_on=replied, review_requested=True))


def test_a_matter_concluded_by_re_review_is_not_accepted_again() -> None:
    with pytest.raises(GuardFailed, match="复核"):
        check_guards(Action.ACCEPT, facts(status=CaseStatus.REGISTERED, final_matter=True))
