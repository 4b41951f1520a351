"""The instant the service acts at: one function, so a test can move time for every module."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
