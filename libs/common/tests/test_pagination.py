"""Cursors come back from clients: anything this API did not issue is a 400, never a 500."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import pytest

from gov_common.pagination import decode_cursor, encode_cursor
from gov_common.problems import ProblemError


def _raw(text: bytes) -> str:
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def test_a_cursor_round_trips_with_its_types() -> None:
    at, key = datetime(2027, 1, 4, 8, 30, tzinfo=UTC), uuid.uuid4()
    cursor = encode_cursor([at.isoformat(), str(key), 7, date(2027, 2, 1).isoformat()])
    assert decode_cursor(cursor, datetime, uuid.UUID, int, date) == (
        at,
        key,
        7,
        date(2027, 2, 1),
    )


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%not-base64%%%",
        "A",  # base64 of nothing decodable
        _raw(b"{not json"),
        _raw(b'{"a": 1}'),
        _raw(b'["2027-01-04T08:30:00+00:00"]'),  # too short
        _raw(b'["2027-01-04T08:30:00+00:00", "x", 3]'),  # too long
        _raw(b'["yesterday", "6f1c1bd2-35a1-4d0d-9b85-4d38d49e5a4e"]'),
        _raw(b'["2027-01-04T08:30:00+00:00", "not-a-uuid"]'),
        _raw(b'[20270104, "6f1c1bd2-35a1-4d0d-9b85-4d38d49e5a4e"]'),
        _raw(b'["2027-01-04T08:30:00+00:00", null]'),
    ],
)
def test_a_forged_cursor_is_a_400_problem(cursor: str) -> None:
    with pytest.raises(ProblemError) as caught:
        decode_cursor(cursor, datetime, uuid.UUID)
    assert caught.value.status == 400
    assert caught.value.problem_type == "invalid-cursor"


@pytest.mark.parametrize("value", [b'["12"]', b"[true]", b"[1.5]", b"[null]"])
def test_an_integer_key_must_be_an_integer(value: bytes) -> None:
    with pytest.raises(ProblemError):
        decode_cursor(_raw(value), int)
