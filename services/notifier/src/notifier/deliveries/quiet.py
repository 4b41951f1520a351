"""Quiet hours: when a non-urgent message to a recipient may go out. Pure functions."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from gov_common.clock import CHINA_TZ


def quiet_until(now: datetime, start: time | None, end: time | None) -> datetime | None:
    """The end of the quiet period ``now`` falls in (China time), or None when not quiet.

    ``start`` after ``end`` spans midnight (22:00–07:30); ``start`` before ``end`` does not.
    """
    if start is None or end is None:
        return None
    local = now.astimezone(CHINA_TZ)
    clock = local.time().replace(tzinfo=None)
    quiet = (start <= clock < end) if start < end else (clock >= start or clock < end)
    if not quiet:
        return None
    until = datetime.combine(local.date(), end, tzinfo=CHINA_TZ)
    if until <= local:
        until += timedelta(days=1)
    return until
