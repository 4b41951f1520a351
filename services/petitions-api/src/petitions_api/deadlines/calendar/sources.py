"""Where a year's working-day schedule comes from, best first (pure: no I/O).

- ``official``: entered from the State Council's notice (国务院办公厅关于某年部分节假日安排的
  通知) through ``PUT /v1/calendar/{year}`` or the deployment's data file;
- ``library``: ``chinesecalendar`` knows the year (it ships each notice some weeks after it
  appears);
- ``provisional``: neither. The rest days that 《全国年节及纪念日放假办法》 (as revised by
  国务院令第795号, in force since 2025) fixes by date, from the ``holidays`` package: 元旦
  (1 Jan), 春节 (农历除夕 and 正月初一 to 初三), 清明节 (the Qingming solar term day), 劳动节
  (1–2 May), 端午节 (农历五月初五), 中秋节 (农历八月十五) and 国庆节 (1–3 Oct) — 13 days.
  Not the weekday made up for a holiday that falls on a weekend (办法 第六条 补假) and no
  make-up working days (调休): only the notice says where those fall, so a deadline computed on
  a provisional year says that it is provisional.

A schedule lists only what differs from the week: ``holidays`` are weekdays that are rest
days, ``make_up_workdays`` weekend days that are working days.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import chinese_calendar
import holidays
from chinese_calendar import constants as chinese_calendar_data


class CalendarSource(StrEnum):
    OFFICIAL = "official"
    LIBRARY = "library"
    PROVISIONAL = "provisional"


# The statutory festivals' names as ``holidays`` gives them (language zh_CN): the days fixed by
# law. Anything else it lists (substituted days of past notices, 补假) is left out on purpose.
STATUTORY_HOLIDAY_NAMES = frozenset(
    {"元旦", "农历除夕", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}
)
FIRST_YEAR, LAST_YEAR = 2000, 2099  # years the API answers for


@dataclass(frozen=True)
class YearSchedule:
    """One year's departures from Monday-to-Friday, and where they come from."""

    year: int
    source: CalendarSource
    holidays: frozenset[date]
    make_up_workdays: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@functools.cache
def library_years() -> frozenset[int]:
    """The years the installed ``chinesecalendar`` knows."""
    return frozenset(d.year for d in chinese_calendar_data.holidays)


def library_version() -> str:
    return f"chinesecalendar {getattr(chinese_calendar, '__version__', 'unknown')}"


@functools.cache
def library_schedule(year: int) -> YearSchedule | None:
    """The year as ``chinesecalendar`` has it, or None when it does not know the year."""
    if year not in library_years():
        return None
    rest = {d for d in chinese_calendar_data.holidays if d.year == year and d.weekday() < 5}
    work = {d for d in chinese_calendar_data.workdays if d.year == year and d.weekday() >= 5}
    return YearSchedule(year, CalendarSource.LIBRARY, frozenset(rest), frozenset(work))


@functools.cache
def statutory_rest_days(year: int) -> frozenset[date]:
    """Every day of ``year`` the law names as a rest day (weekend days included)."""
    found = holidays.China(years=year, observed=False, language="zh_CN")
    return frozenset(
        day
        for day, names in found.items()
        if any(name.strip() in STATUTORY_HOLIDAY_NAMES for name in names.split(";"))
    )


@functools.cache
def provisional_schedule(year: int) -> YearSchedule:
    rest = frozenset(d for d in statutory_rest_days(year) if d.weekday() < 5)
    return YearSchedule(year, CalendarSource.PROVISIONAL, rest, frozenset())


def fallback_schedule(year: int) -> YearSchedule:
    """The best schedule without an official entry: the library's, else the law's."""
    return library_schedule(year) or provisional_schedule(year)
