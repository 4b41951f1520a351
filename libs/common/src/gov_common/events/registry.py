"""Topics and event types: who produces, who consumes, and which payload schema each type has.

One entry per topic and per event type, the way getsentry/sentry-kafka-schemas declares its
contracts. A change that breaks consumers is a new type version (``…v2``) published beside the
old one until consumers have moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from gov_common.events import petitions
from gov_common.events.envelope import CloudEvent

DAY_MS = 24 * 3600 * 1000


class UnknownEventTypeError(ValueError):
    """The ``ce_type`` is not in the registry; no consumer can ever handle it."""


class SchemaViolationError(ValueError):
    """The payload does not match its registered schema."""


@dataclass(frozen=True)
class TopicContract:
    name: str
    description: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = 6
    retention_ms: int = 14 * DAY_MS
    # Adding optional fields is allowed within a version; anything else is a new version.
    compatibility: str = "backward"

    @property
    def dead_letter(self) -> str:
        return dead_letter_topic(self.name)


@dataclass(frozen=True)
class EventType:
    name: str
    topic: str
    payload: type[BaseModel]
    description: str

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self.payload.model_json_schema()
        schema["$id"] = f"urn:gov-suite:event:{self.name}"
        schema["title"] = self.name
        schema["description"] = self.description
        return schema


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


PETITIONS_CASE_EVENTS = "petitions.case-events"
TARGETS_INDICATOR_EVENTS = "targets.indicator-events"
NOTIFIER_DELIVERY_EVENTS = "notifier.delivery-events"

TOPICS: dict[str, TopicContract] = {
    t.name: t
    for t in (
        TopicContract(
            name=PETITIONS_CASE_EVENTS,
            description="Lifecycle of 12345 tickets and 信访 cases; key = case id.",
            producers=("petitions-api",),
            consumers=("notifier", "targets-api"),
        ),
        TopicContract(
            name=TARGETS_INDICATOR_EVENTS,
            description="Indicator progress and status changes; key = indicator id.",
            producers=("targets-api",),
            consumers=("notifier",),
        ),
        TopicContract(
            name=NOTIFIER_DELIVERY_EVENTS,
            description="Outcome of each notification delivery; key = delivery id.",
            producers=("notifier",),
            consumers=("petitions-api",),
        ),
    )
}

EVENT_TYPES: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            name="gov.petitions.case.created.v1",
            topic=PETITIONS_CASE_EVENTS,
            payload=petitions.CaseCreatedV1,
            description="A ticket or petition case was registered (登记); no personal data.",
        ),
    )
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
