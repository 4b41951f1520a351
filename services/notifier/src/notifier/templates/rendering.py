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
    """Problems with one template text for ``event_type``; empty when it may be saved.

    In order: it must parse; every filter and test must exist in the sandbox; every variable
    must be a payload field or ``event.*`` / ``recipient.*``; an attribute of a payload field
    must exist on what the field holds in the context (the payload's JSON form: dates and
    times are strings, so ``{{ due_at.year }}`` is refused); and the text must render with a
    sample event of the type, once with every optional field set and once with them null.
    """
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message}"]
    problems = _unknown_filters_and_tests(tree)
    if problems:
        # Jinja2 cannot compile the text: the checks below would fail on the same problem.
        return problems
    allowed = allowed_names(event_type)
    try:
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # anything else the compiler refuses
        return [f"line {exc.lineno}: {exc.message}"]
    problems += [
        f"unknown variable {name!r}; {event_type.name} offers: {', '.join(sorted(allowed))}"
        for name in sorted(undeclared - allowed)
    ]
    problems += _unknown_attributes(tree, event_type, undeclared)
    if not problems:
        problems += _sample_render_problems(source, event_type)
    return problems


def _unknown_filters_and_tests(tree: nodes.Template) -> list[str]:
    problems = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind, known = (
            ("filter", _ENV.filters)
            if isinstance(node, nodes.Filter)
            else (
                "test",
                _ENV.tests,
            )
        )
        if node.name not in known:
            problems.append(
                f"line {node.lineno}: unknown {kind} {node.name!r}; the sandbox has: "
                + ", ".join(sorted(known))
            )
    return problems


# What a payload field holds in a template's context, by its JSON Schema type.
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (float, int),
    "boolean": (bool,),
    "array": (list,),
    "null": (type(None),),
}


def _field_types(prop: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a property's schema allows (``anyOf`` flattened, ``$ref`` resolved)."""
    if "$ref" in prop:
        return _field_types(defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "anyOf" in prop:
        return [t for option in prop["anyOf"] for t in _field_types(option, defs)]
    if "enum" in prop and "type" not in prop:
        return [{"type": "string"}]
    return [prop]


def _attribute_exists(attr: str, alternatives: list[dict[str, Any]]) -> bool:
    """Does ``attr`` exist on every non-null value the field may hold?"""
    for schema in alternatives:
        kind = schema.get("type")
        if kind == "null":
            continue
        if kind == "object" or kind is None:
            properties = schema.get("properties")
            if properties is not None and attr not in properties and not hasattr(dict, attr):
                return False
            continue
        types = _PYTHON_TYPES.get(kind, ())
        if not types or not all(
            hasattr(t, attr) and _ENV.is_safe_attribute(t, attr, getattr(t, attr)) for t in types
        ):
            return False
    return True


def _unknown_attributes(
    tree: nodes.Template, event_type: EventType, undeclared: set[str]
) -> list[str]:
    schema = event_type.payload.model_json_schema()
    properties, defs = schema.get("properties", {}), schema.get("$defs", {})
    # A name the template assigns itself ({% set %}, {% for %}) is not the payload's field.
    assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    problems = []
    for node in tree.find_all(nodes.Getattr):
        if not isinstance(node.node, nodes.Name):
            continue
        name = node.node.name
        if name in NAMESPACES:
            fields = NAMESPACES[name]
            if node.attr not in fields:
                problems.append(
                    f"unknown variable '{name}.{node.attr}'; "
                    f"{name} offers: {', '.join(sorted(fields))}"
                )
            continue
        if name not in undeclared or name in assigned or name not in properties:
            continue
        alternatives = _field_types(properties[name], defs)
        if not _attribute_exists(node.attr, alternatives):
            kinds = "/".join(
                sorted({str(t.get("type") or t.get("format") or "value") for t in alternatives})
            )
            problems.append(
                f"line {node.lineno}: '{name}.{node.attr}': {name} is a {kinds} in "
                f"{event_type.name}, which has no attribute {node.attr!r}"
            )
    return problems


def _sample_render_problems(source: str, event_type: EventType) -> list[str]:
    """Render ``source`` with sample events of ``event_type``; the errors, each once."""
    try:
        template = _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        return [f"line {exc.lineno}: {exc.message}"]
    problems: list[str] = []
    for label, optional_null in (
        ("a sample event", False),
        ("an event without its optional fields", True),
    ):
        payload = sample_payload(event_type, {}, optional_null=optional_null)
        context = context_for(
            sample_event(event_type, payload),
            payload,
            {"name": "示例收件人", "org_unit_id": "610203100", "kind": "person"},
        )
        try:
            template.render(context)
        except Exception as exc:  # whatever fails here would fail every delivery
            problem = f"fails to render with {label}: {type(exc).__name__}: {exc}"
            if problem not in problems:
                problems.append(problem)
            break
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
    except Exception as exc:  # e.g. TypeError of an operator: the delivery fails, not the event
        raise TemplateRenderError(
            f"template failed to render: {type(exc).__name__}: {exc}"
        ) from exc


def sample_payload(
    event_type: EventType, overrides: dict[str, Any], *, optional_null: bool = False
) -> BaseModel:
    """A plausible payload of ``event_type`` (for previews and the save check), built from its
    JSON Schema, with ``overrides`` applied; ``optional_null``: fields that may be null are."""
    schema = event_type.payload.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    sample = {
        name: None
        if optional_null and name not in required and _nullable(prop)
        else _sample_value(name, prop, defs)
        for name, prop in schema.get("properties", {}).items()
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


def _nullable(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", ()))


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
