"""If-Match, one rule for the suite (RFC 9110): strong comparison, 428 where a change must
say what it read, 400 for a header that is not a list of ETags."""

from __future__ import annotations

import pytest

from gov_common.preconditions import check_if_match, etag, parse_if_match
from gov_common.problems import ProblemError


def _status(if_match: str | None, version: int = 3, *, required: bool = True) -> int:
    try:
        check_if_match(if_match, version, "rule", required=required)
    except ProblemError as problem:
        return problem.status
    return 200


def test_the_etag_read_matches_and_another_does_not() -> None:
    assert etag(3) == '"3"'
    assert _status('"3"') == 200
    assert _status('"2"') == 412
    assert _status('"1", "3"') == 200  # any of a list
    assert _status("*") == 200


def test_a_weak_etag_never_matches_if_match() -> None:
    """RFC 9110 §13.1.1: If-Match uses the strong comparison."""
    assert _status('W/"3"') == 412
    assert _status('W/"3", "3"') == 200
    with pytest.raises(ProblemError) as caught:
        check_if_match('W/"3"', 3, "rule", required=True)
    assert "weak" in caught.value.detail


def test_without_if_match_a_replacement_is_refused_and_an_action_is_not() -> None:
    assert _status(None, required=True) == 428
    assert _status(None, required=False) == 200


@pytest.mark.parametrize("value", ["3", "", "  ", '"3', '"3" "4"', '"3",,x', "W/3"])
def test_a_header_that_is_not_a_list_of_etags_is_a_400(value: str) -> None:
    with pytest.raises(ProblemError) as caught:
        parse_if_match(value)
    assert caught.value.status == 400 and caught.value.problem_type == "invalid-if-match"


def test_a_tag_may_hold_what_rfc_9110_allows() -> None:
    assert parse_if_match('"a,b" , W/"x", "7"') == (False, ['"a,b"', '"7"'])
