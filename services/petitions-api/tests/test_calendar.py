"""Deadline arithmetic on China's calendar, across holidays and 调休 make-up days, on each
year's best source: official, library (chinesecalendar), provisional (the law's rest days).

The library dates asserted were checked against the State Council's notices:
2023 National Day + Mid-Autumn: 29 Sep – 6 Oct off; Sat 7 and Sun 8 Oct are working days.
2024 Spring Festival: 10 – 17 Feb off; Fri 9 Feb (除夕) is a working day, Sun 4 and Sun 18 Feb
are make-up working days.
2025 Spring Festival: 28 Jan – 4 Feb off; Sun 26 Jan and Sat 8 Feb are working days.
2025 National Day + Mid-Autumn: 1 – 8 Oct off; Sun 28 Sep and Sat 11 Oct are working days.
2024 National Day: 1 – 7 Oct off; Sun 29 Sep and Sat 12 Oct are working days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gov_common.clock import CHINA_TZ
from gov_common.events.petitions import DeadlineKind
from petitions_api.deadlines.calendar.sources import (
    CalendarSource,
    YearSchedule,
    provisional_schedule,
    statutory_rest_days,
)
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import ClockSpec, DayCount, compute
from petitions_api.deadlines.days import end_of_day, parse_threshold

LIBRARY_ONLY = WorkingCalendar()  # no official entry: the library's years, then the law's


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2023, 10, 6), False),  # National Day 2023
        (date(2023, 10, 7), True),  # Saturday, 调休 make-up day
        (date(2023, 10, 8), True),  # Sunday, make-up day
        (date(2024, 2, 4), True),  # Sunday, make-up day before Spring Festival 2024
        (date(2024, 2, 9), True),  # Friday, 除夕 — a working day in 2024
        (date(2024, 2, 12), False),  # 春节
        (date(2024, 2, 18), True),  # Sunday, make-up day after it
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
    assert LIBRARY_ONLY.source(day.year) is CalendarSource.LIBRARY
    assert LIBRARY_ONLY.is_working_day(day) is working


def test_2027_is_provisional_with_the_rest_days_the_law_fixes() -> None:
    """No library knows 2027 yet: the 13 days of 《全国年节及纪念日放假办法》 (2024 revision),
    Spring Festival being 除夕 and 初一–初三 (5–8 Feb 2027), and no make-up working days."""
    assert LIBRARY_ONLY.source(2027) is CalendarSource.PROVISIONAL
    rest = statutory_rest_days(2027)
    assert len(rest) == 13
    assert {date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)} <= rest
    assert {date(2027, 1, 1), date(2027, 5, 1), date(2027, 5, 2), date(2027, 10, 3)} <= rest
    schedule = provisional_schedule(2027)
    assert schedule.make_up_workdays == frozenset()
    # Weekdays only: Sat 6 and Sun 7 Feb are rest days anyway.
    assert {date(2027, 2, 5), date(2027, 2, 8)} <= schedule.holidays
    assert date(2027, 2, 6) not in schedule.holidays
    assert not LIBRARY_ONLY.is_working_day(date(2027, 1, 1))  # 元旦, a Friday
    assert not LIBRARY_ONLY.is_working_day(date(2027, 2, 8))  # 初三, a Monday
    # The weekday made up for a festival on a weekend (补假) is for the notice to place.
    assert LIBRARY_ONLY.is_working_day(date(2027, 2, 9))


def test_an_official_schedule_wins_over_the_library_and_the_law() -> None:
    made_up = YearSchedule(
        2027,
        CalendarSource.OFFICIAL,
        holidays=frozenset({date(2027, 2, 9), date(2027, 2, 10), date(2027, 2, 8)}),
        make_up_workdays=frozenset({date(2027, 2, 20)}),
    )
    calendar = WorkingCalendar(official={2027: made_up}, revision=7)
    assert calendar.source(2027) is CalendarSource.OFFICIAL
    assert not calendar.is_working_day(date(2027, 2, 9))
    assert calendar.is_working_day(date(2027, 2, 20))  # a Saturday
    # A day the law names but the notice leaves out is the notice's call (it is official).
    assert calendar.is_working_day(date(2027, 2, 5))
    assert calendar.source(2026) is CalendarSource.LIBRARY


def test_a_60_day_clock_from_2_november_2026_does_not_end_on_new_years_day() -> None:
    """Before the calendar was data, 2027 was counted Monday to Friday: due Fri 1 Jan 2027."""
    reckoning = LIBRARY_ONLY.reckoning()
    assert reckoning.statutory_due_on(date(2026, 11, 2), 60) == date(2027, 1, 4)
    assert reckoning.years == {2027}
    assert reckoning.provisional


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
        # National Day 2023: Fri 6 Oct + 1 → Sat 7 Oct, a make-up working day.
        (date(2023, 10, 6), 1, date(2023, 10, 7)),
        # Spring Festival 2024: Thu 8 Feb + 1 → Fri 9 Feb; + 2 → Sun 18 Feb (make-up).
        (date(2024, 2, 8), 1, date(2024, 2, 9)),
        (date(2024, 2, 8), 2, date(2024, 2, 18)),
        (date(2024, 2, 2), 1, date(2024, 2, 4)),  # Fri 2 Feb + 1 → Sun 4 Feb (make-up)
        (date(2025, 3, 3), 0, date(2025, 3, 3)),
    ],
)
def test_adding_working_days_skips_holidays_and_counts_make_up_days(
    start: date, count: int, expected: date
) -> None:
    assert LIBRARY_ONLY.reckoning().add_working_days(start, count) == expected


def test_a_statutory_period_ending_on_a_holiday_runs_to_the_next_working_day() -> None:
    reckoning = LIBRARY_ONLY.reckoning()
    # 15 days from 16 Sep 2025 is 1 Oct (National Day): the period ends on Thu 9 Oct.
    assert reckoning.statutory_due_on(date(2025, 9, 16), 15) == date(2025, 10, 9)
    # 60 days from 1 Dec 2024 is 30 Jan 2025 (Spring Festival): ends Wed 5 Feb.
    assert reckoning.statutory_due_on(date(2024, 12, 1), 60) == date(2025, 2, 5)
    # Ending on an ordinary working day: unchanged.
    assert reckoning.statutory_due_on(date(2025, 3, 3), 15) == date(2025, 3, 18)
    # Ending on the make-up Sunday 28 Sep 2025: that is a working day, so unchanged.
    assert reckoning.statutory_due_on(date(2025, 9, 13), 15) == date(2025, 9, 28)
    # Ending on Sun 8 Oct 2023, a make-up working day: unchanged.
    assert reckoning.statutory_due_on(date(2023, 9, 8), 30) == date(2023, 10, 8)
    assert not reckoning.provisional


def _handling(starts_on: date, extension: int = 0) -> ClockSpec:
    started_at = datetime.combine(starts_on, datetime.min.time(), tzinfo=CHINA_TZ)
    return ClockSpec(
        DeadlineKind.HANDLING,
        started_at.astimezone(UTC),
        starts_on,
        DayCount.CALENDAR_DAYS,
        60,
        extension,
    )


@pytest.mark.parametrize(
    ("accepted_on", "due", "extended_due"),
    [
        # +60 = 1 Oct (National Day) → 9 Oct; +90 = Fri 31 Oct, a working day. Adding 30 days
        # to the rolled date gave Sat 8 Nov, 8 days past the lawful end.
        (date(2025, 8, 2), date(2025, 10, 9), date(2025, 10, 31)),
        # +60 = Mon 1 Sep; +90 = 1 Oct (National Day) → Thu 9 Oct. Adding 30 days to 1 Sep
        # without rolling gave 1 Oct itself.
        (date(2025, 7, 3), date(2025, 9, 1), date(2025, 10, 9)),
    ],
)
def test_an_extension_counts_from_acceptance_and_rolls_past_rest_days(
    accepted_on: date, due: date, extended_due: date
) -> None:
    """第三十四条: 60 days from acceptance, extended once by at most 30: the extended period
    is acceptance + 90 days, its end rolled like any period's."""
    assert compute(_handling(accepted_on), LIBRARY_ONLY).due_on == due
    assert compute(_handling(accepted_on, extension=30), LIBRARY_ONLY).due_on == extended_due


def test_a_computed_due_date_says_which_years_it_rests_on() -> None:
    due = compute(_handling(date(2026, 12, 2)), LIBRARY_ONLY)
    assert due.due_on == date(2027, 2, 1)  # 31 Jan 2027 is a Sunday
    assert due.years == (2027,)
    assert due.provisional
    settled = compute(_handling(date(2026, 9, 1)), LIBRARY_ONLY)
    assert (settled.years, settled.provisional) == ((2026,), False)
    hours = ClockSpec(
        DeadlineKind.HOTLINE,
        datetime(2026, 12, 31, 8, tzinfo=UTC),
        date(2026, 12, 31),
        DayCount.HOURS,
        2,
    )
    urgent = compute(hours, LIBRARY_ONLY)
    assert (urgent.due_on, urgent.years, urgent.provisional) == (None, (), False)
    assert urgent.due_at == datetime(2026, 12, 31, 10, tzinfo=UTC)


def test_coverage_ends_with_the_last_known_year() -> None:
    assert LIBRARY_ONLY.covered_until(date(2026, 12, 2)) == date(2026, 12, 31)
    assert LIBRARY_ONLY.covered_until(date(2027, 1, 5)) == date(2026, 12, 31)
    official = YearSchedule(2027, CalendarSource.OFFICIAL, frozenset(), frozenset())
    entered = WorkingCalendar(official={2027: official})
    assert entered.covered_until(date(2026, 12, 2)) == date(2027, 12, 31)


def test_a_deadline_day_ends_at_midnight_china_time() -> None:
    assert end_of_day(date(2025, 10, 9)) == datetime(2025, 10, 10, tzinfo=CHINA_TZ)


def test_hotline_tiers_in_hours_or_working_days() -> None:
    start = datetime(2025, 9, 30, 16, 0, tzinfo=CHINA_TZ).astimezone(UTC)
    hours = ClockSpec(DeadlineKind.HOTLINE, start, date(2025, 9, 30), DayCount.HOURS, 2)
    assert compute(hours, LIBRARY_ONLY).due_at == start + timedelta(hours=2)
    days = ClockSpec(DeadlineKind.HOTLINE, start, date(2025, 9, 30), DayCount.WORKING_DAYS, 1)
    due = compute(days, LIBRARY_ONLY)
    assert due.due_on == date(2025, 10, 9)
    assert due.due_at == datetime(2025, 10, 10, tzinfo=CHINA_TZ)


def test_thresholds() -> None:
    assert parse_threshold("72h") == timedelta(hours=72)
    assert parse_threshold("3d") == timedelta(days=3)
    assert parse_threshold("0") == timedelta(0)
    with pytest.raises(ValueError, match="72h"):
        parse_threshold("soon")
