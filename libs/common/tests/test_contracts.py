"""The committed JSON Schemas and AsyncAPI document are what the code says they are."""

from pathlib import Path

from gov_common.events import EVENT_TYPES, TOPICS
from gov_common.events.export import render

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"


def test_committed_schemas_match_the_code() -> None:
    rendered = render()
    committed = {p.name: p.read_bytes() for p in SCHEMA_DIR.glob("*.json")}
    assert committed.keys() == rendered.keys(), (
        "run: uv run python -m gov_common.events.export libs/common/schemas"
    )
    for name, content in rendered.items():
        assert committed[name] == content, f"{name} is stale: re-export the schemas"


def test_every_event_type_is_on_a_declared_topic_and_versioned() -> None:
    for name, event_type in EVENT_TYPES.items():
        assert event_type.topic in TOPICS
        assert name.startswith("gov.") and name.rsplit(".", 1)[1].startswith("v")


def test_dead_letter_topic_names() -> None:
    assert TOPICS["petitions.case-events"].dead_letter == "petitions.case-events.dlq"
