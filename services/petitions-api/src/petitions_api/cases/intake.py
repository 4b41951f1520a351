"""Writing a newly registered case (登记) in one statement.

A registration writes five rows — the case, its petitioner, its first clock, its timeline
entry, its ``case.created`` outbox row — and, for a request with an ``Idempotency-Key``, the
remembered answer. They are written by one ``INSERT`` with data-modifying CTEs: one round
trip instead of one per row (each was a flush through the ORM), in the same transaction as
before, so nothing is half-written. The relay is woken by ``pg_notify`` in the same statement,
delivered at commit like ``NOTIFY``.

Children take the case's id from the case's CTE: their foreign keys are checked at the end of
the statement, when the case row exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.messaging.outbox import NOTIFY_CHANNEL
from petitions_api.deadlines.clocks import ClockSpec, Due
from petitions_api.deadlines.service import clock_values

# Every column of ``cases`` a registration sets (the rest are NULL or their defaults).
CASE_COLUMNS = (
    "id",
    "case_number",
    "kind",
    "channel",
    "subject",
    "description",
    "received_on",
    "status",
    "version",
    "category_code",
    "place_unit_id",
    "place_address",
    "latitude",
    "longitude",
    "town_unit_id",
    "handling_unit_id",
    "accused_unit_id",
    "urgent",
    "group_size",
    "attachments",
    "source_client",
    "external_ref",
    "first_time",
    "repeat_of",
    "repeat_score",
    "repeat_confirmed",
    "review_stage",
    "review_requested",
    "final",
    "extended",
    "created_at",
    "updated_at",
)
PETITIONER_COLUMNS = (
    "name_ciphertext",
    "phone_ciphertext",
    "id_number_ciphertext",
    "address_ciphertext",
    "phone_index",
    "id_number_index",
    "index_key_id",
)
_JSONB = frozenset({"attachments"})
# Children take the case id from the case's CTE: each is checked against the new row.
_CASE_ID = "(SELECT id FROM new_case)"


# Every column of ``case_deadlines`` the first clock sets (deadlines.service.clock_values).
CLOCK_COLUMNS = (
    "kind",
    "started_at",
    "starts_on",
    "day_count",
    "length",
    "extension",
    "due_on",
    "due_at",
    "provisional",
    "calendar_years",
    "calendar_revision",
)


@dataclass(frozen=True)
class FirstClock:
    spec: ClockSpec
    due: Due


@dataclass(frozen=True)
class Remembered:
    """The answer an ``Idempotency-Key`` replays (its key was claimed earlier in this
    transaction)."""

    scope: str
    key: str
    status: int
    body: bytes  # the JSON sent to the client, stored as it was sent


def _jsonb(name: str) -> str:
    return f"CAST(:{name} AS jsonb)"


def _cte(name: str, table: str, columns: dict[str, str], tail: str = "") -> str:
    """``name AS (INSERT INTO table (columns) VALUES (values) tail)``; the names and values
    are this module's constants (bind parameters carry every value of the request)."""
    listed, values = ", ".join(columns), ", ".join(columns.values())
    return f"{name} AS (INSERT INTO {table} ({listed}) VALUES ({values}){tail})"  # noqa: S608


def _statement(*, petitioner: bool, remember: bool) -> TextClause:
    parts = [
        _cte(
            "new_case",
            "cases",
            {c: _jsonb(f"c_{c}") if c in _JSONB else f":c_{c}" for c in CASE_COLUMNS},
            " RETURNING id",
        ),
        _cte(
            "new_clock",
            "case_deadlines",
            {"case_id": _CASE_ID, **{c: f":d_{c}" for c in CLOCK_COLUMNS}},
        ),
        _cte(
            "new_entry",
            "case_timeline",
            {
                "case_id": _CASE_ID,
                "action": ":t_action",
                "to_status": ":t_to_status",
                "actor": ":t_actor",
                "details": _jsonb("t_details"),
                "occurred_at": ":t_occurred_at",
            },
        ),
        _cte(
            "new_event",
            "outbox",
            {
                "event_id": ":o_event_id",
                "event_type": ":o_event_type",
                "topic": ":o_topic",
                "message_key": ":o_message_key",
                "headers": _jsonb("o_headers"),
                "payload": ":o_payload",
            },
        ),
    ]
    if petitioner:
        parts.append(
            _cte(
                "new_petitioner",
                "petitioners",
                {"case_id": _CASE_ID, **{c: f":p_{c}" for c in PETITIONER_COLUMNS}},
            )
        )
    if remember:
        parts.append(
            "remembered AS (UPDATE idempotency_keys SET case_id = (SELECT id FROM new_case), "
            "response_status = :r_status, response_body = CAST(:r_body AS jsonb), "
            "response_location = '/v1/cases/' || (SELECT id FROM new_case) "
            "WHERE scope = :r_scope AND key = :r_key)"
        )
    # pg_notify: the NOTIFY of gov_common's add_to_outbox, delivered at commit likewise.
    return text(f"WITH {', '.join(parts)} SELECT pg_notify('{NOTIFY_CHANNEL}', '')")


_STATEMENTS = {
    (petitioner, remember): _statement(petitioner=petitioner, remember=remember)
    for petitioner in (False, True)
    for remember in (False, True)
}


async def write_new_case(
    session: AsyncSession,
    *,
    case: dict[str, Any],
    petitioner: dict[str, Any] | None,
    clock: FirstClock,
    entry: dict[str, Any],
    outbox: dict[str, Any],
    remember: Remembered | None,
) -> None:
    """Insert the rows of a registration (values by column name) in one round trip."""
    params: dict[str, Any] = {}
    for column in CASE_COLUMNS:
        value = case[column]
        params[f"c_{column}"] = orjson.dumps(value).decode() if column in _JSONB else value
    for column, value in clock_values(clock.spec, clock.due).items():
        params[f"d_{column}"] = value.value if isinstance(value, StrEnum) else value
    params.update(
        t_action=entry["action"],
        t_to_status=entry["to_status"],
        t_actor=entry["actor"],
        t_details=orjson.dumps(entry["details"]).decode(),
        t_occurred_at=entry["occurred_at"],
        o_event_id=outbox["event_id"],
        o_event_type=outbox["event_type"],
        o_topic=outbox["topic"],
        o_message_key=outbox["message_key"],
        o_headers=orjson.dumps(outbox["headers"]).decode(),
        o_payload=outbox["payload"],
    )
    if petitioner is not None:
        params.update({f"p_{c}": petitioner[c] for c in PETITIONER_COLUMNS})
    if remember is not None:
        params.update(
            r_status=remember.status,
            r_body=remember.body.decode(),
            r_scope=remember.scope,
            r_key=remember.key,
        )
    statement = _STATEMENTS[(petitioner is not None, remember is not None)]
    await session.execute(statement, params)
