"""Filters and quiet hours: pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from gov_common.clock import CHINA_TZ
from gov_common.events import CloudEvent
from notifier.deliveries.quiet import quiet_until
from notifier.rules.matching import matches

EVENT = CloudEvent(
    id="e1",
    source="/gov/petitions-api",
    type="gov.petitions.case.overdue.v1",
    time=datetime(2026, 11, 28, tzinfo=UTC),
    subject="case-1",
    data={},
)
DATA = {"handling_unit_id": "610203100", "deadline": "handling", "supervisor_id": None}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([], True),
        ([{"field": "handling_unit_id", "op": "prefix", "value": "610203"}], True),
        ([{"field": "handling_unit_id", "op": "prefix", "value": "610204"}], False),
        ([{"field": "deadline", "op": "eq", "value": "handling"}], True),
        ([{"field": "deadline", "op": "in", "value": ["acceptance", "return"]}], False),
        ([{"field": "deadline", "op": "not_in", "value": ["acceptance"]}], True),
        ([{"field": "supervisor_id", "op": "exists", "value": True}], False),
        ([{"field": "supervisor_id", "op": "exists", "value": False}], True),
        ([{"field": "event.subject", "op": "eq", "value": "case-1"}], True),
        ([{"field": "deadline", "op": "gte", "value": 3}], False),  # type clash: no match
        (
            [
                {"field": "deadline", "op": "eq", "value": "handling"},
                {"field": "handling_unit_id", "op": "ne", "value": "610203100"},
            ],
            False,
        ),
    ],
)
def test_filters(filters: list[dict[str, object]], expected: bool) -> None:
    assert matches(filters, EVENT, DATA) is expected


def _china(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 28, hour, minute, tzinfo=CHINA_TZ)


def test_quiet_hours_across_midnight_hold_messages_until_morning() -> None:
    start, end = time(22, 0), time(7, 30)
    assert quiet_until(_china(23, 15), start, end) == datetime(2026, 11, 29, 7, 30, tzinfo=CHINA_TZ)
    assert quiet_until(_china(6, 0), start, end) == _china(7, 30)
    assert quiet_until(_china(12, 0), start, end) is None
    assert quiet_until(_china(7, 30), start, end) is None


def test_quiet_hours_within_a_day_and_none() -> None:
    assert quiet_until(_china(12, 30), time(12, 0), time(14, 0)) == _china(14, 0)
    assert quiet_until(_china(15, 0), time(12, 0), time(14, 0)) is None
    assert quiet_until(_china(3, 0), None, None) is None
    # The same instant given in UTC is judged in China time.
    assert quiet_until(_china(23).astimezone(UTC), time(22, 0), time(7, 0)) is not None


@pytest.mark.parametrize("optional_null", [False, True])
def test_every_registered_event_type_has_a_sample_payload_for_the_save_check(
    optional_null: bool,
) -> None:
    from gov_common.events import EVENT_TYPES
    from notifier.templates.rendering import check_source, sample_payload

    for event_type in EVENT_TYPES.values():
        payload = sample_payload(event_type, {}, optional_null=optional_null)
        assert isinstance(payload, event_type.payload)
        # The generic message of a rule without a template passes the check for every type.
        assert (
            check_source("{{ event.type }} {{ event.subject }} {{ event.time }}", event_type) == []
        )
