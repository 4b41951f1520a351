"""Status rules at their boundaries (pure functions, no I/O)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from targets_api.indicators.models import IndicatorKind, IndicatorStatus
from targets_api.indicators.status import (
    StatusInput,
    SubMilestone,
    Thresholds,
    compute_status,
    elapsed_share,
)

T = Thresholds()  # on track ≥ 90% of expected, at risk ≥ 70%, level tolerance 10%
YEAR = {"period_start": date(2023, 1, 1), "period_end": date(2023, 12, 31)}
D = Decimal


def status(kind: IndicatorKind, today: date, **fields: object) -> IndicatorStatus:
    data = StatusInput(kind=kind, **YEAR, reported=fields.get("value") is not None, **fields)  # type: ignore[arg-type]
    return compute_status(data, today, T).status


def test_elapsed_share_counts_today_and_is_one_on_the_last_day() -> None:
    assert elapsed_share(date(2023, 1, 1), date(2023, 12, 31), date(2022, 12, 31)) == 0
    assert elapsed_share(date(2023, 1, 1), date(2023, 1, 10), date(2023, 1, 1)) == D("0.1")
    assert elapsed_share(date(2023, 1, 1), date(2023, 12, 31), date(2023, 12, 31)) == 1
    assert elapsed_share(date(2023, 1, 1), date(2023, 12, 31), date(2024, 3, 1)) == 1


def test_expected_by_now_moves_linearly_from_the_baseline() -> None:
    result = compute_status(
        StatusInput(
            IndicatorKind.AT_LEAST,
            date(2023, 1, 1),
            date(2023, 1, 10),
            baseline=D(100),
            target=D(200),
            value=D(150),
            reported=True,
        ),
        date(2023, 1, 5),
        T,
    )
    assert result.expected_by_now == D(150)
    assert result.status is IndicatorStatus.ON_TRACK


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D(500), IndicatorStatus.ACHIEVED),  # exactly on target
        (D("499.99"), IndicatorStatus.ON_TRACK),  # on the last day, not yet overdue
        (D(451), IndicatorStatus.ON_TRACK),  # 90.2% of expected
        (D(450), IndicatorStatus.ON_TRACK),  # exactly 90%: on track
        (D("449.99"), IndicatorStatus.AT_RISK),
        (D(350), IndicatorStatus.AT_RISK),  # exactly 70%
        (D("349.99"), IndicatorStatus.OFF_TRACK),
    ],
)
def test_at_least_on_the_last_day_of_the_period(value: Decimal, expected: IndicatorStatus) -> None:
    assert (
        status(IndicatorKind.AT_LEAST, date(2023, 12, 31), target=D(500), value=value) is expected
    )


def test_at_least_the_day_after_the_period_is_overdue_unless_reached() -> None:
    after = date(2024, 1, 1)
    assert (
        status(IndicatorKind.AT_LEAST, after, target=D(500), value=D(499))
        is IndicatorStatus.OVERDUE
    )
    assert (
        status(IndicatorKind.AT_LEAST, after, target=D(500), value=D(500))
        is IndicatorStatus.ACHIEVED
    )
    assert status(IndicatorKind.AT_LEAST, after, target=D(500)) is IndicatorStatus.OVERDUE


def test_at_least_is_achieved_the_day_it_is_reached_even_early() -> None:
    assert (
        status(IndicatorKind.AT_LEAST, date(2023, 3, 1), target=D(10), value=D(12))
        is IndicatorStatus.ACHIEVED
    )


def test_not_started_until_a_report_and_before_the_due_date() -> None:
    assert (
        status(IndicatorKind.AT_LEAST, date(2023, 6, 1), target=D(10))
        is IndicatorStatus.NOT_STARTED
    )
    assert (
        status(IndicatorKind.AT_LEAST, date(2023, 12, 31), target=D(10))
        is IndicatorStatus.NOT_STARTED
    )


@pytest.mark.parametrize(
    ("kind", "value", "during", "after"),
    [
        # unemployment within 4%: 4 is within, 4.4 is the edge of the tolerance, above is off
        (IndicatorKind.AT_MOST, D(4), IndicatorStatus.ON_TRACK, IndicatorStatus.ACHIEVED),
        (IndicatorKind.AT_MOST, D("3.2"), IndicatorStatus.ON_TRACK, IndicatorStatus.ACHIEVED),
        (IndicatorKind.AT_MOST, D("4.4"), IndicatorStatus.AT_RISK, IndicatorStatus.OVERDUE),
        (IndicatorKind.AT_MOST, D("4.41"), IndicatorStatus.OFF_TRACK, IndicatorStatus.OVERDUE),
        # the same numbers against an at-least target of 4 (a count, not a ceiling): 3.2 is
        # ahead of the ~2 expected by 1 July, but short of 4 once the year is over
        (IndicatorKind.AT_LEAST, D("3.2"), IndicatorStatus.ON_TRACK, IndicatorStatus.OVERDUE),
        (IndicatorKind.AT_LEAST, D("4.41"), IndicatorStatus.ACHIEVED, IndicatorStatus.ACHIEVED),
    ],
)
def test_at_most_against_at_least(
    kind: IndicatorKind, value: Decimal, during: IndicatorStatus, after: IndicatorStatus
) -> None:
    assert status(kind, date(2023, 7, 1), target=D(4), value=value) is during
    assert status(kind, date(2024, 1, 1), target=D(4), value=value) is after


def test_at_most_is_achieved_only_once_the_period_is_over() -> None:
    assert (
        status(IndicatorKind.AT_MOST, date(2023, 12, 31), target=D(4), value=D(4))
        is IndicatorStatus.ON_TRACK
    )
    assert (
        status(IndicatorKind.AT_MOST, date(2024, 1, 1), target=D(4), value=D(4))
        is IndicatorStatus.ACHIEVED
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D(80), IndicatorStatus.ON_TRACK),  # exactly 80%: meets "80% or more"
        (D("79.99"), IndicatorStatus.AT_RISK),
        (D(72), IndicatorStatus.AT_RISK),  # 80 × (1 − 10%)
        (D("71.99"), IndicatorStatus.OFF_TRACK),
    ],
)
def test_percentage_rate_during_the_period(value: Decimal, expected: IndicatorStatus) -> None:
    assert (
        status(IndicatorKind.PERCENTAGE, date(2023, 12, 31), target=D(80), value=value) is expected
    )


def test_percentage_rate_after_the_period() -> None:
    after = date(2024, 1, 1)
    assert (
        status(IndicatorKind.PERCENTAGE, after, target=D(80), value=D(80))
        is IndicatorStatus.ACHIEVED
    )
    assert (
        status(IndicatorKind.PERCENTAGE, after, target=D(80), value=D("79.9"))
        is IndicatorStatus.OVERDUE
    )


def test_exact_target_over_shot_is_off_track() -> None:
    assert (
        status(IndicatorKind.EXACT, date(2023, 6, 1), target=D(9), value=D(9))
        is IndicatorStatus.ACHIEVED
    )
    assert (
        status(IndicatorKind.EXACT, date(2023, 6, 1), target=D(9), value=D(10))
        is IndicatorStatus.OFF_TRACK
    )
    assert (
        status(IndicatorKind.EXACT, date(2024, 6, 1), target=D(9), value=D(10))
        is IndicatorStatus.OVERDUE
    )


def test_milestone_past_due() -> None:
    due = {"due_date": date(2023, 9, 1)}  # e.g. a school relocation by the autumn term
    m = IndicatorKind.MILESTONE
    assert status(m, date(2023, 9, 1), **due) is IndicatorStatus.NOT_STARTED  # due day included
    assert status(m, date(2023, 9, 2), **due) is IndicatorStatus.OVERDUE
    assert status(m, date(2023, 9, 2), done=False, **due) is IndicatorStatus.OVERDUE
    assert status(m, date(2023, 9, 2), done=True, **due) is IndicatorStatus.ACHIEVED
    reported = StatusInput(m, **YEAR, due_date=date(2023, 9, 1), done=False, reported=True)
    assert compute_status(reported, date(2023, 8, 31), T).status is IndicatorStatus.ON_TRACK


def test_a_past_due_sub_milestone_puts_the_milestone_off_track() -> None:
    subs = (
        SubMilestone("design", date(2023, 3, 31), done=True),
        SubMilestone("build", date(2023, 6, 30), done=False),
        SubMilestone("open", None, done=False),
    )
    data = StatusInput(IndicatorKind.MILESTONE, **YEAR, milestones=subs, reported=True)
    assert compute_status(data, date(2023, 6, 30), T).status is IndicatorStatus.ON_TRACK
    assert compute_status(data, date(2023, 7, 1), T).status is IndicatorStatus.OFF_TRACK
    done = StatusInput(
        IndicatorKind.MILESTONE,
        **YEAR,
        milestones=tuple(SubMilestone(s.code, s.due_date, True) for s in subs),
        reported=True,
    )
    assert compute_status(done, date(2023, 7, 1), T).status is IndicatorStatus.ACHIEVED


def test_thresholds_come_from_configuration() -> None:
    strict = Thresholds(on_track_ratio=D("0.99"), at_risk_ratio=D("0.95"))
    data = StatusInput(IndicatorKind.AT_LEAST, **YEAR, target=D(500), value=D(480), reported=True)
    assert compute_status(data, date(2023, 12, 31), T).status is IndicatorStatus.ON_TRACK
    assert compute_status(data, date(2023, 12, 31), strict).status is IndicatorStatus.AT_RISK
