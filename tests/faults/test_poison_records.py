"""Scenario 4: poison records on every consumed topic.

On ``petitions.case-events`` (consumed by the notifier and targets-api) and
``targets.indicator-events`` (consumed by the notifier), four kinds of poison, then one valid
event:

- not JSON: well-formed CloudEvents headers, a value that is not JSON;
- unknown type: a ``ce_type`` no contract declares;
- schema-invalid: a known type whose payload breaks its schema;
- oversized: as large as the broker takes (its ``message.max.bytes``, about 1 MiB) — a valid
  JSON object but no valid payload. This is the meaningful size limit: the record is over
  every consumer's per-partition fetch size default (1 MiB) and its dead letter is *larger*
  than the original (the ``dlq_*`` headers are added), so it tests that a record the broker
  accepted can always be dead-lettered.

Each poison must land in ``<topic>.dlq`` once per consuming group, with the reason and the
error class in headers, and the valid event after them must be handled: consumption goes on.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from gov_common.events import CloudEvent, new_event
from gov_common.events.contracts import PETITIONS_CASE_EVENTS, TARGETS_INDICATOR_EVENTS
from gov_common.events.petitions import CASE_CREATED_V1
from gov_common.messaging.kafka import ensure_topics

from .conftest import Stack
from .harness import Raw, Result, case_created, publish, read_topic, sink_summary
from .harness import wait_caught_up as caught_up
from .intake import wait_for

pytestmark = pytest.mark.faults

PROGRESS_REPORTED = "gov.targets.indicator.progress_reported.v1"
# Reason and error class each poison must be dead-lettered with.
EXPECTED = {
    "not-json": ("MalformedEventError", "value is not JSON"),
    "unknown-type": ("UnknownEventTypeError", "unknown event type"),
    "schema-invalid": ("SchemaViolationError", "payload invalid"),
    "oversized": ("SchemaViolationError", "payload invalid"),
}


def _headers(event_id: str, event_type: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_id", event_id.encode()),
        ("ce_source", b"/faults/poison"),
        ("ce_type", event_type.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("content-type", b"application/json"),
    ]


def _poisons(known_type: str, unknown_type: str) -> dict[str, Raw]:
    def raw(kind: str, event_type: str, value: bytes) -> Raw:
        event_id = f"poison-{kind}-{uuid.uuid4()}"
        return Raw(value, _headers(event_id, event_type), key=event_id.encode())

    return {
        "not-json": raw("not-json", known_type, b"{not json at all"),
        "unknown-type": raw("unknown-type", unknown_type, b'{"case_id": "x"}'),
        "schema-invalid": raw(
            "schema-invalid", known_type, orjson.dumps({"case_id": "not-a-uuid", "kind": 42})
        ),
    }


async def _largest_accepted(bootstrap: str, topic: str, event_type: str) -> tuple[Raw, Any]:
    """Produce the largest record the broker accepts on ``topic`` (within 512 bytes)."""
    event_id = f"poison-oversized-{uuid.uuid4()}"
    headers = _headers(event_id, event_type)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        size = 1024 * 1024
        for _ in range(20):
            record = Raw(orjson.dumps({"junk": "x" * size}), headers, key=event_id.encode())
            try:
                sent = await producer.send_and_wait(
                    topic, record.value, key=record.key, headers=record.headers
                )
                return record, sent
            except MessageSizeTooLargeError:
                size -= 512
    finally:
        await producer.stop()
    raise AssertionError("the broker took no record near 1 MiB")


def _progress_reported() -> CloudEvent:
    indicator = uuid.uuid4()
    return new_event(
        source="/gov/targets-api",
        type=PROGRESS_REPORTED,
        subject=str(indicator),
        data={
            "indicator_id": str(indicator),
            "indicator_code": "GOV-01",
            "plan_id": str(uuid.uuid4()),
            "name_zh": "地区生产总值增长",
            "occurred_at": datetime.now(UTC).isoformat(),
            "report_id": str(uuid.uuid4()),
            "department_id": "fgj",
            "as_of": date.today().isoformat(),
            "value": "5.5",
            "state": "approved",
        },
    )


async def _inbox_has(database_url: str, event_id: str) -> bool:
    db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return bool(await db.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id))
    finally:
        await db.close()


async def test_poison_on_every_consumed_topic_is_dead_lettered_and_consumption_goes_on(
    stack: Stack,
) -> None:
    result = Result(
        4,
        "Poison records on every consumed topic",
        load="4 poison records + 1 valid event on each of petitions.case-events and "
        "targets.indicator-events",
        fault="not JSON, unknown type, schema-invalid, oversized (~1 MiB, the broker's limit)",
        sent=0,
        received=0,
        lost=0,
        duplicated=0,
    )
    sink = await stack.sink().launch()
    await ensure_topics(
        stack.bootstrap, [PETITIONS_CASE_EVENTS, TARGETS_INDICATOR_EVENTS], prefix=stack.prefix
    )
    targets = await (await stack.service("targets")).launch()
    notifier = await (
        await stack.service("notifier", NOTIFIER_WEBHOOK_URL=f"{sink.url}/hooks/case-events")
    ).launch()
    consumers = {
        PETITIONS_CASE_EVENTS: [stack.group("notifier"), stack.group("targets-api")],
        TARGETS_INDICATOR_EVENTS: [stack.group("notifier")],
    }
    unknown = {
        PETITIONS_CASE_EVENTS: "gov.petitions.case.teleported.v1",
        TARGETS_INDICATOR_EVENTS: "gov.targets.indicator.vanished.v1",
    }
    known = {PETITIONS_CASE_EVENTS: CASE_CREATED_V1, TARGETS_INDICATOR_EVENTS: PROGRESS_REPORTED}

    # (topic, kind) → (partition, offset) of each poison; then the valid event after them.
    placed: dict[tuple[str, str], tuple[int, int]] = {}
    valid: dict[str, CloudEvent] = {}
    for contract in consumers:
        topic = stack.topic(contract)
        poisons = _poisons(known[contract], unknown[contract])
        landed = await publish(stack.bootstrap, topic, list(poisons.values()))
        for kind, (tp, offset) in zip(poisons, landed, strict=True):
            placed[(contract, kind)] = (tp.partition, offset)
        _, big = await _largest_accepted(stack.bootstrap, topic, known[contract])
        placed[(contract, "oversized")] = (big.partition, big.offset)
        valid[contract] = (
            case_created() if contract == PETITIONS_CASE_EVENTS else _progress_reported()
        )
        await publish(stack.bootstrap, topic, [valid[contract]])

    async with httpx.AsyncClient(timeout=30) as http:
        admin = stack.auth.headers("admin")
        notifier_db = await stack.database("notifier")
        case_event = valid[PETITIONS_CASE_EVENTS]

        async def valid_events_handled() -> bool:
            tally = (await http.get(targets.url + "/v1/live/case-events", headers=admin)).json()
            notified = (await sink_summary(http, sink))["distinct_event_ids"]
            return (
                tally["counts"].get(CASE_CREATED_V1, 0) == 1
                and notified == 1
                and await _inbox_has(notifier_db, valid[TARGETS_INDICATOR_EVENTS].id)
            )

        handled_after_poison = True
        try:
            await wait_for(valid_events_handled, timeout_s=90, what="the valid events handled")
            for contract, groups in consumers.items():
                for group in groups:
                    await caught_up(stack.bootstrap, group, [stack.topic(contract)], timeout_s=30)
        except (AssertionError, TimeoutError):
            handled_after_poison = False
        received = (await http.get(sink.url + "/received")).json()

    found: Counter[tuple[str, str, str]] = Counter()
    reasons: dict[tuple[str, str, str], tuple[str, str]] = {}
    truncated: dict[tuple[str, str, str], tuple[int, int]] = {}  # (original, kept) bytes
    for contract in consumers:
        topic = stack.topic(contract)
        by_place = {place: kind for (c, kind), place in placed.items() if c == contract}
        for record in await read_topic(stack.bootstrap, topic + ".dlq"):
            headers = {k: v.decode(errors="replace") for k, v in record.headers}
            place = (int(headers["dlq_original_partition"]), int(headers["dlq_original_offset"]))
            assert headers["dlq_original_topic"] == topic
            kind = by_place.get(place, f"unexpected@{place}")
            key = (contract, kind, headers["dlq_consumer"])
            found[key] += 1
            reasons[key] = (headers["dlq_error_class"], headers["dlq_reason"][:200])
            if "dlq_value_truncated" in headers:
                truncated[key] = (int(headers["dlq_value_truncated"]), len(record.value or b""))
    wanted = {
        (contract, kind, group)
        for contract, groups in consumers.items()
        for group in groups
        for kind in EXPECTED
    }
    missing = sorted(wanted - set(found))
    repeated = {k: n for k, n in found.items() if n > 1}
    wrong_reason = {
        k: reasons[k]
        for k in wanted & set(found)
        if reasons[k][0] != EXPECTED[k[1]][0] or EXPECTED[k[1]][1] not in reasons[k][1]
    }
    poison_count = len(placed)
    result.sent = poison_count + len(valid)
    delivered_valid = int(handled_after_poison) * len(valid)
    result.received = (
        sum(
            1
            for (contract, kind) in placed
            if all((contract, kind, g) in found for g in consumers[contract])
        )
        + delivered_valid
    )
    result.lost = result.sent - result.received
    result.duplicated = sum(n - 1 for n in repeated.values()) + max(
        0, len([r for r in received if r["event_id"] == case_event.id]) - 1
    )
    result.notes = (
        f"{sum(found.values())} dead letters for {poison_count} poison records "
        f"(one per consuming group), each with dlq_reason and dlq_error_class; the valid "
        f"event after them {'was' if handled_after_poison else 'was NOT'} handled on both topics"
    )
    result.details = {
        "placed": {f"{c}/{k}": p for (c, k), p in placed.items()},
        "dead_letters": {"/".join(k): f"{n}× {reasons[k]}" for k, n in found.items()},
        "missing": ["/".join(m) for m in missing],
        "wrong_reason": {"/".join(k): v for k, v in wrong_reason.items()},
        "truncated_dead_letters": {"/".join(k): v for k, v in truncated.items()},
    }
    result.passed = not missing and not repeated and not wrong_reason and handled_after_poison
    result.write()

    assert not missing, f"not dead-lettered: {missing}; logs: {notifier.log_path}"
    assert not wrong_reason, wrong_reason
    assert not repeated, repeated
    assert handled_after_poison, "consumption stopped at a poison record"
    assert len(found) == len(wanted)  # nothing unexpected in the dead-letter topics
    # Only the oversized record's dead letter had to be cut, and it says how big it was.
    assert {k[1] for k in truncated} == {"oversized"}
    assert all(original > kept for original, kept in truncated.values())
