"""Deadline arithmetic on China's official calendar, across holidays and 调休 make-up days.

The dates asserted were checked against chinese_calendar's data (State Council notices):
2025 Spring Festival: 28 Jan – 4 Feb off; Sun 26 Jan and Sat 8 Feb are working days.
2025 National Day + Mid-Autumn: 1 – 8 Oct off; Sun 28 Sep and Sat 11 Oct are working days.
2024 National Day: 1 – 7 Oct off; Sun 29 Sep and Sat 12 Oct are working days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from gov_common.clock import CHINA_TZ
from petitions_api.deadlines.calendar import (
    add_working_days,
    end_of_day,
    hotline_due,
    is_working_day,
    parse_threshold,
    statutory_due_on,
)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 1, 26), True),  # Sunday, 调休 make-up day before Spring Festival
        (date(2025, 1, 29), False),  # 春节
        (date(2025, 2, 4), False),
        (date(2025, 2, 8), True),  # Saturday, make-up day
        (date(2025, 9, 28), True),  # Sunday, make-up day before National Day
        (date(2025, 10, 8), False),
        (date(2025, 10, 11), True),  # Saturday, make-up day
        (date(2025, 10, 12), False),  # an ordinary Sunday
    ],
)
def test_working_days_follow_the_official_calendar(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        # Friday before Spring Festival: the next working day is the make-up Sunday.
        (date(2025, 1, 24), 1, date(2025, 1, 26)),
        # 5 working days for a return, dispatched on the Monday before the holiday:
        # 5 Feb, 6, 7, Sat 8 (make-up), Mon 10.
        (date(2025, 1, 27), 5, date(2025, 2, 10)),
        # National Day 2025: Fri 26 Sep + 1 → Sun 28 Sep (make-up).
        (date(2025, 9, 26), 1, date(2025, 9, 28)),
        # From 30 Sep: 9 Oct, 10 Oct, Sat 11 Oct (make-up) …
        (date(2025, 9, 30), 3, date(2025, 10, 11)),
        # … and the 5th working day is Tue 14 Oct.
        (date(2025, 9, 30), 5, date(2025, 10, 14)),
        # National Day 2024: 30 Sep + 1 → 8 Oct; + 5 → Sat 12 Oct (make-up) counted: 8,9,10,11,12.
        (date(2024, 9, 30), 1, date(2024, 10, 8)),
        (date(2024, 9, 30), 5, date(2024, 10, 12)),
        (date(2025, 3, 3), 0, date(2025, 3, 3)),
    ],
)
def test_adding_working_days_skips_holidays_and_counts_make_up_days(
    start: date, count: int, expected: date
) -> None:
    assert add_working_days(start, count) == expected


def test_a_statutory_period_ending_on_a_holiday_runs_to_the_next_working_day() -> None:
    # 15 days from 16 Sep 2025 is 1 Oct (National Day): the period ends on Thu 9 Oct.
    assert statutory_due_on(date(2025, 9, 16), 15) == date(2025, 10, 9)
    # 60 days from 1 Dec 2024 is 30 Jan 2025 (Spring Festival): ends Wed 5 Feb.
    assert statutory_due_on(date(2024, 12, 1), 60) == date(2025, 2, 5)
    # Ending on an ordinary working day: unchanged.
    assert statutory_due_on(date(2025, 3, 3), 15) == date(2025, 3, 18)
    # Ending on the make-up Sunday 28 Sep 2025: that is a working day, so unchanged.
    assert statutory_due_on(date(2025, 9, 13), 15) == date(2025, 9, 28)


def test_a_deadline_day_ends_at_midnight_china_time() -> None:
    assert end_of_day(date(2025, 10, 9)) == datetime(2025, 10, 10, tzinfo=CHINA_TZ)


def test_hotline_tiers_in_hours_or_working_days() -> None:
    start = datetime(2025, 9, 30, 16, 0, tzinfo=CHINA_TZ)
    due_at, due_on = hotline_due(start, hours=2, working_days=None)
    assert (due_at, due_on) == (start + timedelta(hours=2), None)
    due_at, due_on = hotline_due(start, hours=None, working_days=1)
    assert due_on == date(2025, 10, 9)
    assert due_at == datetime(2025, 10, 10, tzinfo=CHINA_TZ)


def test_thresholds() -> None:
    assert parse_threshold("72h") == timedelta(hours=72)
    assert parse_threshold("3d") == timedelta(days=3)
    assert parse_threshold("0") == timedelta(0)
    with pytest.raises(ValueError, match="72h"):
        parse_threshold("soon")
