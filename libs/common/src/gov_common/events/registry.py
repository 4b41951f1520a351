"""Topics and event types: who produces, who consumes, and which payload schema each type has.

One entry per topic and per event type, the way getsentry/sentry-kafka-schemas declares its
contracts. A change that breaks consumers is a new type version (``…v2``) published beside the
old one until consumers have moved.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from gov_common.events import notifier, petitions, targets
from gov_common.events.contracts import (
    NOTIFIER_DELIVERY_EVENTS,
    PETITIONS_CASE_EVENTS,
    TARGETS_INDICATOR_EVENTS,
    TOPICS,
    EventType,
    TopicContract,
    dead_letter_topic,
)
from gov_common.events.envelope import CloudEvent


class UnknownEventTypeError(ValueError):
    """The ``ce_type`` is not in the registry; no consumer can ever handle it."""


class SchemaViolationError(ValueError):
    """The payload does not match its registered schema."""


# Each producing service's module declares its own types; this is the union.
EVENT_TYPES: dict[str, EventType] = {
    e.name: e for module in (petitions, targets, notifier) for e in module.EVENT_TYPES
}


def event_type(name: str) -> EventType:
    try:
        return EVENT_TYPES[name]
    except KeyError:
        raise UnknownEventTypeError(f"unknown event type {name!r}") from None


def parse_payload(event: CloudEvent) -> BaseModel:
    """The event's payload as its registered model; raises when unknown or invalid."""
    contract = event_type(event.type)
    try:
        payload: BaseModel = contract.payload.model_validate(event.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise SchemaViolationError(
            f"{event.type} payload invalid at {where}: {first['msg']}"
        ) from exc
    return payload


__all__ = [
    "EVENT_TYPES",
    "NOTIFIER_DELIVERY_EVENTS",
    "PETITIONS_CASE_EVENTS",
    "TARGETS_INDICATOR_EVENTS",
    "TOPICS",
    "EventType",
    "SchemaViolationError",
    "TopicContract",
    "UnknownEventTypeError",
    "dead_letter_topic",
    "event_type",
    "parse_payload",
]
