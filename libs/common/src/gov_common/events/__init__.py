"""Event contracts of the suite: the CloudEvents envelope, topics, event types and payloads.

This package is the contract a reader checks before touching a producer or a consumer.
"""

from gov_common.events.envelope import (
    CloudEvent,
    KafkaRecord,
    MalformedEventError,
    from_kafka,
    new_event,
    to_kafka,
)
from gov_common.events.registry import (
    EVENT_TYPES,
    TOPICS,
    EventType,
    SchemaViolationError,
    TopicContract,
    UnknownEventTypeError,
    event_type,
    parse_payload,
)

__all__ = [
    "EVENT_TYPES",
    "TOPICS",
    "CloudEvent",
    "EventType",
    "KafkaRecord",
    "MalformedEventError",
    "SchemaViolationError",
    "TopicContract",
    "UnknownEventTypeError",
    "event_type",
    "from_kafka",
    "new_event",
    "parse_payload",
    "to_kafka",
]
