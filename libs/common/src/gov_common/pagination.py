"""Cursor pagination: opaque cursors that encode the sort key of the last item returned.

A cursor is base64url(JSON list). It comes back from the client, so it is untrusted input:
``decode_cursor`` checks the shape *and* the type of every value and answers one 400 problem
(``invalid-cursor``) for anything this API did not issue, instead of each route parsing the
values its own way (and some answering 500 for a forged one).
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter

from gov_common.problems import ProblemError

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    """Encode a sort key; datetimes/dates/UUIDs are written as ISO text/strings."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def _invalid() -> ProblemError:
    return ProblemError(
        400,
        "cursor is not one this API issued; pass next_cursor from the previous page unchanged",
        problem_type="invalid-cursor",
    )


@functools.cache
def _key_adapter(types: tuple[type, ...]) -> TypeAdapter[tuple[Any, ...]]:
    return TypeAdapter(tuple[types])  # type: ignore[valid-type]


def decode_cursor(cursor: str, *types: type) -> tuple[Any, ...]:
    """Decode a cursor into one value per entry of ``types`` (``int``, ``str``, ``datetime``,
    ``date``, ``UUID``, … any type pydantic validates from JSON).

    The values are validated in pydantic's strict JSON mode: the length must match, an
    ``int`` must be a JSON integer (not ``"12"``, ``true`` or ``1.5``), a ``datetime`` an ISO
    string. Anything else the client sends (bad base64, bad JSON, wrong length or type)
    raises a 400 ``invalid-cursor`` problem; nothing here can answer 500.
    """
    if not types:
        raise ValueError("decode_cursor needs the type of each value")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _key_adapter(types).validate_json(raw, strict=True)
    except (ValueError, binascii.Error):  # pydantic's ValidationError is a ValueError
        raise _invalid() from None
