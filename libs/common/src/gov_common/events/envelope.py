"""CloudEvents 1.0 in Kafka binary content mode.

The attributes travel as ``ce_*`` headers, the payload is the record value as JSON, and the
record key is the aggregate id so one aggregate's events stay ordered in one partition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPEC_VERSION: Literal["1.0"] = "1.0"
CONTENT_TYPE = "application/json"
# Header names fixed by the CloudEvents Kafka protocol binding (binary content mode).
_ATTRIBUTE_HEADERS = {
    "id": "ce_id",
    "source": "ce_source",
    "type": "ce_type",
    "specversion": "ce_specversion",
    "time": "ce_time",
    "subject": "ce_subject",
}
TRACEPARENT_HEADER = "traceparent"


class MalformedEventError(ValueError):
    """A record that is not a well-formed CloudEvent; retrying it can never succeed."""


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    specversion: Literal["1.0"] = SPEC_VERSION
    time: datetime
    subject: str | None = None
    datacontenttype: str = CONTENT_TYPE
    data: dict[str, Any]
    traceparent: str | None = None


@dataclass(frozen=True)
class KafkaRecord:
    """What goes on the wire: key, value and headers, ready for a producer."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def new_event(
    *,
    source: str,
    type: str,
    subject: str | None,
    data: BaseModel | dict[str, Any],
    traceparent: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type,
        time=time or datetime.now(UTC),
        subject=subject,
        data=payload,
        traceparent=traceparent,
    )


def to_kafka(event: CloudEvent, *, key: str | None) -> KafkaRecord:
    attributes = event.model_dump(mode="json", exclude={"data", "datacontenttype", "traceparent"})
    headers = [
        (header, str(attributes[name]).encode())
        for name, header in _ATTRIBUTE_HEADERS.items()
        if attributes.get(name) is not None
    ]
    headers.append(("content-type", event.datacontenttype.encode()))
    if event.traceparent:
        headers.append((TRACEPARENT_HEADER, event.traceparent.encode()))
    return KafkaRecord(
        key=key.encode() if key is not None else None,
        value=orjson.dumps(event.data),
        headers=headers,
    )


def from_kafka(
    value: bytes | None, headers: list[tuple[str, bytes]] | tuple[Any, ...]
) -> CloudEvent:
    """Read a binary-mode CloudEvent; raise :class:`MalformedEventError` saying what is wrong."""
    found: dict[str, str] = {}
    for name, raw in headers:
        try:
            found[name.lower()] = raw.decode() if raw is not None else ""
        except UnicodeDecodeError as exc:
            raise MalformedEventError(f"header {name!r} is not UTF-8") from exc
    missing = [h for h in ("ce_id", "ce_source", "ce_type", "ce_specversion") if h not in found]
    if missing:
        raise MalformedEventError(f"not a CloudEvent: missing header(s) {', '.join(missing)}")
    if found["ce_specversion"] != SPEC_VERSION:
        raise MalformedEventError(
            f"unsupported CloudEvents specversion {found['ce_specversion']!r}"
        )
    content_type = found.get("content-type", CONTENT_TYPE)
    if not content_type.startswith(CONTENT_TYPE):
        raise MalformedEventError(f"unsupported content-type {content_type!r}")
    if value is None:
        raise MalformedEventError("record has no value")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise MalformedEventError(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MalformedEventError("value is not a JSON object")
    try:
        return CloudEvent(
            id=found["ce_id"],
            source=found["ce_source"],
            type=found["ce_type"],
            time=found.get("ce_time") or datetime.now(UTC),
            subject=found.get("ce_subject"),
            datacontenttype=content_type,
            data=data,
            traceparent=found.get(TRACEPARENT_HEADER),
        )
    except ValidationError as exc:
        raise MalformedEventError(
            f"invalid CloudEvent attributes: {exc.errors()[0]['msg']}"
        ) from exc
