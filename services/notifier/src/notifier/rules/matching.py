"""Whether an event passes a rule's filters. Pure functions: no database, no I/O."""

from __future__ import annotations

from typing import Any

from gov_common.events import CloudEvent

ENVELOPE_FILTER_FIELDS = frozenset({"event.subject", "event.source", "event.type"})
_MISSING = object()


def field_value(event: CloudEvent, data: dict[str, Any], field: str) -> Any:
    if field in ENVELOPE_FILTER_FIELDS:
        return getattr(event, field.removeprefix("event."))
    return data.get(field, _MISSING)


def _holds(value: Any, op: str, expected: Any) -> bool:
    if op == "exists":
        return (value is not _MISSING and value is not None) is expected
    if value is _MISSING or value is None:
        return op in ("ne", "not_in")
    if op == "eq":
        return bool(value == expected)
    if op == "ne":
        return bool(value != expected)
    if op == "in":
        return value in expected
    if op == "not_in":
        return value not in expected
    if op == "prefix":
        return isinstance(value, str) and value.startswith(expected)
    try:
        if op == "gte":
            return bool(value >= expected)
        if op == "lte":
            return bool(value <= expected)
    except TypeError:  # e.g. a string compared with a number: the filter does not hold
        return False
    raise ValueError(f"unknown filter op {op!r}")


def matches(filters: list[dict[str, Any]], event: CloudEvent, data: dict[str, Any]) -> bool:
    """All filters hold for the event; ``data`` is the payload as JSON values."""
    return all(
        _holds(field_value(event, data, f["field"]), f.get("op", "eq"), f.get("value"))
        for f in filters
    )
