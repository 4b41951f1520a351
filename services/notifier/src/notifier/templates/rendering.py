"""Rendering templates in Jinja2's sandbox, and checking them before they are saved.

The context of a template is the event's payload fields at the top level (``case_number``,
``handling_unit_id`` …), the envelope under ``event`` (``event.id``, ``event.type``,
``event.time``, ``event.subject``, ``event.source``) and the recipient under ``recipient``
(``recipient.name``, ``recipient.org_unit_id``). Anything else is refused at save, and
StrictUndefined makes a render fail loudly rather than print an empty string.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError

from gov_common.clock import today_in_china
from gov_common.events import CloudEvent, EventType

ENVELOPE_FIELDS = frozenset({"id", "type", "source", "time", "subject"})
RECIPIENT_FIELDS = frozenset({"name", "org_unit_id", "kind"})
NAMESPACES = {"event": ENVELOPE_FIELDS, "recipient": RECIPIENT_FIELDS}

_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


class TemplateRenderError(ValueError):
    """A template could not be rendered with this event."""


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


def allowed_names(event_type: EventType) -> frozenset[str]:
    return frozenset(event_type.payload.model_fields) | frozenset(NAMESPACES)


def check_source(source: str, event_type: EventType) -> list[str]:
    """Problems with one template text for ``event_type``; empty when it may be saved."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message}"]
    allowed = allowed_names(event_type)
    problems = [
        f"unknown variable {name!r}; {event_type.name} offers: {', '.join(sorted(allowed))}"
        for name in sorted(meta.find_undeclared_variables(tree) - allowed)
    ]
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in NAMESPACES:
            fields = NAMESPACES[node.node.name]
            if node.attr not in fields:
                problems.append(
                    f"unknown variable '{node.node.name}.{node.attr}'; "
                    f"{node.node.name} offers: {', '.join(sorted(fields))}"
                )
    return problems


def context_for(
    event: CloudEvent, payload: BaseModel, recipient: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        **payload.model_dump(mode="json"),
        "event": {
            "id": event.id,
            "type": event.type,
            "source": event.source,
            "time": event.time.isoformat(),
            "subject": event.subject,
        },
        "recipient": recipient or {"name": "", "org_unit_id": None, "kind": "person"},
    }


def render(variants: dict[str, Any], channel: str, context: dict[str, Any]) -> Rendered:
    """The channel's variant, else the default one, rendered with ``context``."""
    variant = variants.get(channel) or variants["default"]
    try:
        subject = variant.get("subject")
        return Rendered(
            subject=_ENV.from_string(subject).render(context).strip() if subject else None,
            body=_ENV.from_string(variant["body"]).render(context).strip(),
        )
    except TemplateError as exc:
        raise TemplateRenderError(f"template failed to render: {exc}") from exc


def sample_payload(event_type: EventType, overrides: dict[str, Any]) -> BaseModel:
    """A plausible payload of ``event_type`` (for previews), with ``overrides`` applied."""
    schema = event_type.payload.model_json_schema()
    defs = schema.get("$defs", {})
    sample = {
        name: _sample_value(name, prop, defs) for name, prop in schema.get("properties", {}).items()
    }
    try:
        return event_type.payload.model_validate({**sample, **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise TemplateRenderError(
            f"sample data does not fit {event_type.name} at {where}: {first['msg']}"
        ) from exc


def sample_event(event_type: EventType, payload: BaseModel) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/gov/notifier/preview",
        type=event_type.name,
        time=datetime.now(UTC),
        subject=str(getattr(payload, "case_id", "")) or None,
        data=payload.model_dump(mode="json"),
    )


def _sample_value(name: str, prop: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in prop:
        prop = defs.get(prop["$ref"].rsplit("/", 1)[-1], {})
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        return _sample_value(name, options[0], defs) if options else None
    if "enum" in prop:
        return prop["enum"][0]
    if "const" in prop:
        return prop["const"]
    kind, fmt = prop.get("type"), prop.get("format")
    if kind == "string":
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "date":
            return today_in_china().isoformat()
        if fmt == "date-time":
            return datetime.now(UTC).isoformat()
        return f"示例-{name}"
    if kind == "boolean":
        return False
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return None
