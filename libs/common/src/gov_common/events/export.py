"""Write the contracts as JSON Schema files and one AsyncAPI document.

``python -m gov_common.events.export DIR`` — the committed copy under ``libs/common/schemas``
is checked against the code by a test, so every schema change shows up in review.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from gov_common.events.registry import EVENT_TYPES, TOPICS


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for contract in TOPICS.values():
        topic_messages = {
            e.name: {"$ref": f"#/components/messages/{e.name}"}
            for e in EVENT_TYPES.values()
            if e.topic == contract.name
        }
        channels[contract.name] = {
            "address": contract.name,
            "description": contract.description,
            "messages": topic_messages,
            "x-producers": list(contract.producers),
            "x-consumers": list(contract.consumers),
            "x-partitions": contract.partitions,
            "x-retention-ms": contract.retention_ms,
            "x-dead-letter-topic": contract.dead_letter,
            "x-compatibility": contract.compatibility,
        }
        operations[f"publish-{contract.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{contract.name}"},
        }
    for e in EVENT_TYPES.values():
        messages[e.name] = {
            "name": e.name,
            "summary": e.description,
            "contentType": "application/json",
            "bindings": {"kafka": {"key": {"type": "string", "description": "aggregate id"}}},
            "headers": {
                "type": "object",
                "required": ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time"],
                "properties": {
                    "ce_id": {"type": "string"},
                    "ce_source": {"type": "string"},
                    "ce_type": {"const": e.name},
                    "ce_specversion": {"const": "1.0"},
                    "ce_time": {"type": "string", "format": "date-time"},
                    "ce_subject": {"type": "string"},
                    "traceparent": {"type": "string"},
                },
            },
            "payload": e.json_schema(),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Government work-plan suite events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0 in Kafka binary content mode; see DESIGN.md §3.",
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> dict[str, bytes]:
    """File name → content of everything the export writes."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    files = {
        f"{e.name}.json": orjson.dumps(e.json_schema(), option=options) + b"\n"
        for e in EVENT_TYPES.values()
    }
    files["asyncapi.json"] = orjson.dumps(asyncapi_document(), option=options) + b"\n"
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gov_common.events.export DIR", file=sys.stderr)
        return 2
    target = Path(argv[0])
    target.mkdir(parents=True, exist_ok=True)
    for name, content in render().items():
        (target / name).write_bytes(content)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
