"""Cursor pagination: opaque cursors that encode the sort key of the last item returned.

A cursor is base64url(JSON list). It comes back from the client, so it is untrusted input:
``decode_cursor`` checks the shape *and* the type of every value and answers one 400 problem
(``invalid-cursor``) for anything this API did not issue, instead of each route parsing the
values its own way (and some answering 500 for a forged one).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import orjson
from pydantic import BaseModel

from gov_common.problems import ProblemError

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    """Encode a sort key; datetimes/dates/UUIDs are written as ISO text/strings."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _as_int(value: Any) -> int:
    # bool is an int subclass; a cursor never carries one.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _as_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(_as_str(value))


def _as_date(value: Any) -> date:
    return date.fromisoformat(_as_str(value))


def _as_uuid(value: Any) -> UUID:
    return UUID(_as_str(value))


_PARSERS: dict[type, Callable[[Any], Any]] = {
    int: _as_int,
    str: _as_str,
    datetime: _as_datetime,
    date: _as_date,
    UUID: _as_uuid,
}


def _invalid() -> ProblemError:
    return ProblemError(
        400,
        "cursor is not one this API issued; pass next_cursor from the previous page unchanged",
        problem_type="invalid-cursor",
    )


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """Decode a cursor into one typed value per entry of ``types``.

    Supported types: ``int``, ``str``, ``datetime``, ``date``, ``UUID``. Anything else the
    client sends (bad base64, bad JSON, wrong length, wrong type, unparsable value) raises a
    400 ``invalid-cursor`` problem; nothing here can answer 500.
    """
    if not types:
        raise ValueError("decode_cursor needs the type of each value")
    parsers = [_PARSERS[t] for t in types]
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise _invalid() from None
    if not isinstance(values, list) or len(values) != len(parsers):
        raise _invalid()
    try:
        return tuple(parse(value) for parse, value in zip(parsers, values, strict=True))
    except (TypeError, ValueError, OverflowError):
        raise _invalid() from None
