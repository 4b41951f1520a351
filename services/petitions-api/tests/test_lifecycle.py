"""The state machine and its guards, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from gov_common.events.petitions import CaseKind, Rating
from petitions_api.cases.lifecycle import (
    Action,
    ActionNotAllowed,
    CaseFacts,
    CaseStatus,
    GuardFailed,
    Party,
    Position,
    RequestKind,
    ReviewStage,
    Track,
    allowed_actions,
    check_guards,
    party,
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


def _reachable(track: Track) -> set[CaseStatus]:
    reachable = {CaseStatus.REGISTERED}
    frontier = [CaseStatus.REGISTERED]
    while frontier:
        state = frontier.pop()
        for pending in (None, *RequestKind):
            where = Position(track, state, pending)
            for action in allowed_actions(where):
                target = transition(where, action)
                if target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
    return reachable


def test_every_state_of_each_track_is_reachable_and_final_states_lead_only_back() -> None:
    assert _reachable(Track.HOTLINE) == set(CaseStatus)
    # A 信访 case is never accepted before dispatch (第二十二条): no ``accepted`` state.
    assert _reachable(Track.PETITION) == set(CaseStatus) - {CaseStatus.ACCEPTED}
    assert _reachable(Track.REVIEW) == set(CaseStatus) - {
        CaseStatus.ACCEPTED,
        CaseStatus.DISPATCHED,
    }
    for track in Track:
        assert allowed_actions(Position(track, CaseStatus.DECLINED)) == []
    assert set(allowed_actions(Position(Track.HOTLINE, CaseStatus.CLOSED))) == {Action.REOPEN}
    assert set(allowed_actions(Position(Track.PETITION, CaseStatus.CLOSED))) == {
        Action.REOPEN,
        Action.REQUEST_REVIEW,
    }


def test_a_disallowed_action_names_the_allowed_ones() -> None:
    with pytest.raises(ActionNotAllowed) as caught:
        transition(Position(Track.HOTLINE, CaseStatus.REGISTERED), Action.REPLY)
    assert caught.value.allowed == [Action.ACCEPT, Action.DECLINE, Action.SUPERVISE]
    with pytest.raises(ActionNotAllowed) as caught:
        transition(Position(Track.PETITION, CaseStatus.REGISTERED), Action.ACCEPT)
    assert caught.value.allowed == [Action.DISPATCH, Action.DECLINE, Action.SUPERVISE]


def test_a_petition_is_forwarded_by_the_registry_then_accepted_by_the_organ() -> None:
    """第二十二条: the 信访部门 registers and forwards (转送/交办); the organ that receives it
    decides acceptance."""
    registered = Position(Track.PETITION, CaseStatus.REGISTERED)
    assert party(registered, Action.DISPATCH) is Party.REGISTRY
    assert party(registered, Action.DECLINE) is Party.REGISTRY
    dispatched = Position(Track.PETITION, CaseStatus.DISPATCHED)
    assert transition(dispatched, Action.ACCEPT) is CaseStatus.IN_PROGRESS
    assert party(dispatched, Action.ACCEPT) is Party.UNIT
    assert party(dispatched, Action.DECLINE) is Party.UNIT
    assert Action.TAKE not in allowed_actions(dispatched)
    # A case accepted before dispatch under the first release is taken, not accepted again.
    legacy = Position(Track.PETITION, CaseStatus.DISPATCHED, accepted=True)
    assert Action.TAKE in allowed_actions(legacy)
    assert Action.ACCEPT not in allowed_actions(legacy)


def test_a_return_and_an_extension_wait_on_the_party_that_decides() -> None:
    """A 信访 case's return is decided by the 信访部门; its extension by the unit's head
    (第三十四条). While a request waits, it is not asked again and only its decision opens."""
    dispatched = Position(Track.PETITION, CaseStatus.DISPATCHED)
    assert transition(dispatched, Action.RETURN) is CaseStatus.DISPATCHED  # stays with the unit
    assert Action.APPROVE_RETURN not in allowed_actions(dispatched)
    waiting = Position(Track.PETITION, CaseStatus.DISPATCHED, RequestKind.RETURN)
    assert Action.RETURN not in allowed_actions(waiting)
    assert party(waiting, Action.APPROVE_RETURN) is Party.REGISTRY
    assert party(waiting, Action.REFUSE_RETURN) is Party.REGISTRY

    handling = Position(Track.PETITION, CaseStatus.IN_PROGRESS)
    assert Action.EXTEND not in allowed_actions(handling)  # the supervisor's step on tickets
    assert party(handling, Action.REQUEST_EXTENSION) is Party.UNIT
    asked = Position(Track.PETITION, CaseStatus.IN_PROGRESS, RequestKind.EXTENSION)
    assert party(asked, Action.APPROVE_EXTENSION) is Party.UNIT_HEAD
    assert party(asked, Action.REFUSE_EXTENSION) is Party.UNIT_HEAD
    assert Action.REQUEST_EXTENSION not in allowed_actions(asked)


def test_a_unit_refused_a_return_does_not_ask_again() -> None:
    check_guards(Action.RETURN, facts(status=CaseStatus.DISPATCHED, handling_unit_id="D-ZJJ"))
    with pytest.raises(GuardFailed, match="refused"):
        check_guards(
            Action.RETURN,
            facts(
                status=CaseStatus.DISPATCHED,
                handling_unit_id="D-ZJJ",
                refused_returns=frozenset({"D-ZJJ"}),
            ),
        )


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
