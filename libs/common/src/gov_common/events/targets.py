"""Payloads of ``targets.indicator-events`` (key = indicator id)."""

from __future__ import annotations

from gov_common.events.contracts import EventType

EVENT_TYPES: tuple[EventType, ...] = ()
