"""Working-day and statutory-period arithmetic on the best schedule of each year (pure).

A :class:`WorkingCalendar` is the official schedules the database holds (a snapshot, see
``calendar.cache``) over the library's and the law's. Every computation runs in a
:class:`Reckoning`, which remembers the years whose days it looked at: a deadline depends on
exactly those years, is provisional when one of them is, and is recomputed when one of them
changes (``deadlines.recompute``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from petitions_api.deadlines.calendar.sources import (
    FIRST_YEAR,
    LAST_YEAR,
    CalendarSource,
    YearSchedule,
    fallback_schedule,
)


@dataclass(frozen=True)
class WorkingCalendar:
    """``official``: the entered schedules by year; ``revision``: the newest calendar version
    (``calendar_versions.revision``) this snapshot reflects, 0 when there is none."""

    official: Mapping[int, YearSchedule] = field(default_factory=dict)
    revision: int = 0
    _years: dict[int, YearSchedule] = field(default_factory=dict, compare=False, repr=False)

    def schedule(self, year: int) -> YearSchedule:
        found = self._years.get(year)
        if found is None:
            found = self.official.get(year) or fallback_schedule(year)
            self._years[year] = found
        return found

    def source(self, year: int) -> CalendarSource:
        return self.schedule(year).source

    def is_working_day(self, day: date) -> bool:
        return self.schedule(day.year).is_working_day(day)

    def reckoning(self) -> Reckoning:
        return Reckoning(self)

    def covered_until(self, today: date) -> date:
        """The last day of the run of non-provisional years that ``today`` lies in, or, when
        ``today``'s own year is provisional, the last day before it that was covered."""
        year = today.year
        if self.source(year) is CalendarSource.PROVISIONAL:
            while year > FIRST_YEAR and self.source(year - 1) is CalendarSource.PROVISIONAL:
                year -= 1
            return date(year - 1, 12, 31)
        while year < LAST_YEAR and self.source(year + 1) is not CalendarSource.PROVISIONAL:
            year += 1
        return date(year, 12, 31)


class Reckoning:
    """One computation on a calendar: the arithmetic, and the years it read."""

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.years: set[int] = set()

    @property
    def provisional(self) -> bool:
        return any(self.calendar.source(y) is CalendarSource.PROVISIONAL for y in self.years)

    def is_working_day(self, day: date) -> bool:
        self.years.add(day.year)
        return self.calendar.is_working_day(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        if count < 0:
            raise ValueError("count must not be negative")
        day, remaining = start, count
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def next_working_day_on_or_after(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def statutory_due_on(self, start: date, days: int) -> date:
        """A period of ``days`` calendar days from ``start``: the day of ``start`` is not
        counted, and a period whose last day is a rest day ends on the next working day
        (《民法典》第二百零一条、第二百零三条, the rule for legal periods)."""
        return self.next_working_day_on_or_after(start + timedelta(days=days))
