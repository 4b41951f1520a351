"""The shapes of the contracts: a topic and an event type. No payloads here, so every
payload module can import this without cycles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

DAY_MS = 24 * 3600 * 1000


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
