"""Reporting periods: a month (``2026-11``), a quarter (``2026-Q4``), a year (``2026``) or a
range of days (``from``/``to``). Days are China's days (Asia/Shanghai): the case columns a
period is matched against (``closed_on``, ``received_on``) already hold dates in that zone."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from gov_common.problems import ProblemError

TIME_ZONE = "Asia/Shanghai"
MAX_RANGE_DAYS = 366 * 5

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


class Granularity(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    RANGE = "range"


@dataclass(frozen=True)
class Period:
    label: str
    granularity: Granularity
    start: date  # first day, inclusive
    end: date  # last day, inclusive


class InvalidPeriodError(ProblemError):
    def __init__(self, name: str, detail: str) -> None:
        super().__init__(
            422,
            f"{name}: {detail}",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": name, "reason": detail}]},
        )


def month(year: int, number: int) -> Period:
    last = calendar.monthrange(year, number)[1]
    start, end = date(year, number, 1), date(year, number, last)
    return Period(f"{year:04d}-{number:02d}", Granularity.MONTH, start, end)


def quarter(year: int, number: int) -> Period:
    first = 3 * (number - 1) + 1
    last_month = first + 2
    return Period(
        f"{year:04d}-Q{number}",
        Granularity.QUARTER,
        date(year, first, 1),
        date(year, last_month, calendar.monthrange(year, last_month)[1]),
    )


def year(number: int) -> Period:
    return Period(f"{number:04d}", Granularity.YEAR, date(number, 1, 1), date(number, 12, 31))


def parse_period(value: str) -> Period:
    """``2026-11`` → November 2026; ``2026-Q4`` → Q4; ``2026`` → the year."""
    text = value.strip()
    if found := _MONTH.match(text):
        number = int(found[2])
        if not 1 <= number <= 12:
            raise InvalidPeriodError("period", f"month {number} is not 01–12")
        return month(int(found[1]), number)
    if found := _QUARTER.match(text):
        return quarter(int(found[1]), int(found[2]))
    if found := _YEAR.match(text):
        return year(int(found[1]))
    raise InvalidPeriodError(
        "period", f"{value!r} is not a month (2026-11), a quarter (2026-Q4) or a year (2026)"
    )


def resolve_period(
    period: str | None, start: date | None, end: date | None, *, required: bool = True
) -> Period | None:
    """One of ``period`` or ``from``+``to``; an error that says which to give otherwise."""
    if period is not None and (start is not None or end is not None):
        raise InvalidPeriodError("period", "give either period, or from and to — not both")
    if period is not None:
        return parse_period(period)
    if start is None and end is None:
        if required:
            raise InvalidPeriodError(
                "period", "required: give period=2026-11, 2026-Q4 or 2026, or from and to"
            )
        return None
    if start is None or end is None:
        missing = "from" if start is None else "to"
        raise InvalidPeriodError(missing, "a range needs both from and to (inclusive dates)")
    if end < start:
        raise InvalidPeriodError("to", f"{end} is before from ({start})")
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidPeriodError("to", f"a range is at most {MAX_RANGE_DAYS} days")
    return Period(f"{start.isoformat()}/{end.isoformat()}", Granularity.RANGE, start, end)
