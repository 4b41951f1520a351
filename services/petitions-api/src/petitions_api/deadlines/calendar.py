"""Working-day and statutory-period arithmetic on China's official calendar (Asia/Shanghai).

Working days come from ``chinese_calendar``, which knows the State Council's holidays and the
make-up working days (调休) on weekends. Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, time, timedelta

import chinese_calendar
import structlog

from gov_common.clock import CHINA_TZ

log = structlog.get_logger(__name__)
_warned_years: set[int] = set()


@functools.lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    # Cached: the installed calendar never changes in a running process, and every intake
    # and sweep walks the same few weeks of days.
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # The State Council publishes a year's holidays in the November before it; until the
        # library knows the year, count Monday to Friday and say so once.
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("calendar.year_unknown", year=day.year, fallback="monday-friday")
        return day.weekday() < 5


def add_working_days(start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
    if count < 0:
        raise ValueError("count must not be negative")
    day = start
    remaining = count
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day


def next_working_day_on_or_after(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def statutory_due_on(start: date, days: int) -> date:
    """A period of ``days`` calendar days from ``start``; when its last day is a holiday or a
    rest day, it ends on the next working day (the usual rule for legal periods)."""
    return next_working_day_on_or_after(start + timedelta(days=days))


def end_of_day(day: date) -> datetime:
    """The instant a deadline "on ``day``" passes: midnight after it, China time."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=CHINA_TZ)


def china_date(instant: datetime) -> date:
    return instant.astimezone(CHINA_TZ).date()


def hotline_due(
    start: datetime, *, hours: int | None, working_days: int | None
) -> tuple[datetime, date | None]:
    """The due instant of a 12345 tier (and its date for working-day tiers)."""
    if hours is not None:
        return start + timedelta(hours=hours), None
    if working_days is None:
        raise ValueError("a tier has hours or working days")
    due_on = add_working_days(china_date(start), working_days)
    return end_of_day(due_on), due_on


_THRESHOLD = re.compile(r"^(\d+)([hdm])$")


def parse_threshold(text: str) -> timedelta:
    """``"72h"`` / ``"3d"`` / ``"30m"`` → a duration before the deadline; ``"0"`` → zero."""
    if text == "0":
        return timedelta(0)
    match = _THRESHOLD.match(text)
    if match is None:
        raise ValueError(f"threshold {text!r} is not like 72h, 3d or 30m")
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "h": timedelta(hours=amount),
        "d": timedelta(days=amount),
        "m": timedelta(minutes=amount),
    }[unit]
