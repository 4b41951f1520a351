"""Dates as the district sees them: all of China keeps China Standard Time (UTC+8)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def today_in_china() -> date:
    """Today's date in China, whatever the server's clock zone is."""
    return datetime.now(CHINA_TZ).date()
