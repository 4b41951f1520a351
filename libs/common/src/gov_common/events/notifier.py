"""Payloads of ``notifier.delivery-events`` (key = delivery id)."""

from __future__ import annotations

from gov_common.events.contracts import EventType

EVENT_TYPES: tuple[EventType, ...] = ()
