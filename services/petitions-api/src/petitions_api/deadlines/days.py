"""Instants and days of deadlines in China time, and the sweep's thresholds (pure).

Working-day arithmetic lives with the calendar it depends on (``deadlines.calendar``);
the rule of each clock in ``deadlines.clocks``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from gov_common.clock import CHINA_TZ


def end_of_day(day: date) -> datetime:
    """The instant a deadline "on ``day``" passes: midnight after it, China time."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=CHINA_TZ)


def china_date(instant: datetime) -> date:
    return instant.astimezone(CHINA_TZ).date()


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
