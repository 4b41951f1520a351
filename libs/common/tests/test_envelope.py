"""The CloudEvents envelope in Kafka binary content mode."""

import re
from datetime import UTC, date, datetime
from uuid import uuid4

import orjson
import pytest

from gov_common.events import (
    MalformedEventError,
    SchemaViolationError,
    UnknownEventTypeError,
    from_kafka,
    new_event,
    parse_payload,
    to_kafka,
)
from gov_common.events.petitions import CaseCreatedV1


def _case_created() -> CaseCreatedV1:
    return CaseCreatedV1(
        case_id=uuid4(),
        case_number="RX2026-00000001",
        kind="hotline_ticket",
        channel="hotline_call",
        subject="路灯不亮",
        received_on=date(2026, 11, 27),
        created_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
    )


def test_binary_mode_puts_attributes_in_headers_and_data_in_value() -> None:
    payload = _case_created()
    event = new_event(
        source="/gov/petitions-api",
        type="gov.petitions.case.created.v1",
        subject=str(payload.case_id),
        data=payload,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    record = to_kafka(event, key=str(payload.case_id))
    headers = dict(record.headers)

    assert record.key == str(payload.case_id).encode()
    assert headers["ce_id"] == event.id.encode()
    assert headers["ce_type"] == b"gov.petitions.case.created.v1"
    assert headers["ce_source"] == b"/gov/petitions-api"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_subject"] == str(payload.case_id).encode()
    assert headers["content-type"] == b"application/json"
    assert headers["traceparent"].startswith(b"00-0af7")
    assert datetime.fromisoformat(headers["ce_time"].decode()) == event.time
    assert orjson.loads(record.value)["subject"] == "路灯不亮"


def test_round_trip_gives_back_the_same_event() -> None:
    event = new_event(
        source="/s", type="gov.petitions.case.created.v1", subject="x", data=_case_created()
    )
    record = to_kafka(event, key="x")
    assert from_kafka(record.value, record.headers) == event


@pytest.mark.parametrize(
    ("value", "drop", "reason"),
    [
        (b"not json", None, "not JSON"),
        (b"[1, 2]", None, "not a JSON object"),
        (None, None, "no value"),
        (b"{}", "ce_id", "missing header(s) ce_id"),
        (b"{}", "ce_type", "missing header(s) ce_type"),
    ],
)
def test_malformed_records_say_what_is_wrong(
    value: bytes | None, drop: str | None, reason: str
) -> None:
    event = new_event(source="/s", type="t", subject=None, data={})
    headers = [(k, v) for k, v in to_kafka(event, key=None).headers if k != drop]
    with pytest.raises(MalformedEventError, match=re.escape(reason)):
        from_kafka(value, headers)


def test_other_spec_versions_are_refused() -> None:
    event = new_event(source="/s", type="t", subject=None, data={})
    headers = [
        (k, b"0.3" if k == "ce_specversion" else v) for k, v in to_kafka(event, key=None).headers
    ]
    with pytest.raises(MalformedEventError, match="specversion"):
        from_kafka(b"{}", headers)


def test_payload_is_checked_against_its_registered_schema() -> None:
    good = new_event(
        source="/s", type="gov.petitions.case.created.v1", subject=None, data=_case_created()
    )
    assert isinstance(parse_payload(good), CaseCreatedV1)

    bad_data = {**good.data, "kind": "complaint"}
    bad = good.model_copy(update={"data": bad_data})
    with pytest.raises(SchemaViolationError, match="kind"):
        parse_payload(bad)

    unknown = good.model_copy(update={"type": "gov.petitions.case.exploded.v1"})
    with pytest.raises(UnknownEventTypeError):
        parse_payload(unknown)
