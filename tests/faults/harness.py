"""What the fault scenarios share: service processes, fresh databases, Kafka helpers, events,
and the result files that scripts/reliability_table.py turns into docs/reliability.md.

Everything runs on loopback; every wait is bounded; every process started is stopped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gov_common.events import CloudEvent, new_event, to_kafka
from gov_common.events.petitions import CASE_CREATED_V1, CaseCreatedV1
from gov_common.testing import REPO_ROOT, UvicornProcess

LOG_DIR = REPO_ROOT / ".local" / "logs" / "faults"
RESULTS_DIR = REPO_ROOT / ".local" / "reliability"
TOOLS_DIR = REPO_ROOT / "tests" / "tools"

CASE = {
    "kind": "hotline_ticket",
    "channel": "hotline_call",
    "subject": "陈炉镇路灯不亮",
    "description": "陈炉镇某村主干道路灯三晚未亮。",
}


@dataclass
class Service(UvicornProcess):
    """A process of a fault scenario (a service, or the counting webhook sink)."""

    log_dir: Path = LOG_DIR


def service(name: str, package: str, env: dict[str, str]) -> Service:
    return Service(name, ["--factory", f"{package}.main:create_app"], env)


def counting_sink(name: str, secret: str) -> Service:
    return Service(
        name,
        ["--app-dir", str(TOOLS_DIR), "counting_sink:app"],
        {"COUNTING_SINK_SECRET": secret},
        ready_path="/healthz",
    )


# ------------------------------------------------------------------------------- events


def case_created(case_id: uuid.UUID | None = None, *, subject: str = "噪音扰民") -> CloudEvent:
    """A ``case.created.v1`` as the petitions relay would publish it."""
    case_id = case_id or uuid.uuid4()
    payload = CaseCreatedV1(
        case_id=case_id,
        case_number=f"RX2026-{case_id.int % 10**8:08d}",
        kind="hotline_ticket",
        channel="hotline_call",
        subject=subject,
        received_on=date.today(),
        created_at=datetime.now(UTC),
        first_time=True,
    )
    return new_event(
        source="/gov/petitions-api", type=CASE_CREATED_V1, subject=str(case_id), data=payload
    )


@dataclass(frozen=True)
class Raw:
    """A record exactly as given: for poison that no CloudEvent could express."""

    value: bytes | None
    headers: list[tuple[str, bytes]]
    key: bytes | None = None


async def publish(
    bootstrap: str, topic: str, records: Iterable[CloudEvent | Raw], *, max_request_size: int = 0
) -> list[tuple[TopicPartition, int]]:
    """Send every record (in order, pipelined) and return where each landed."""
    options: dict[str, Any] = {"acks": "all", "enable_idempotence": True, "linger_ms": 20}
    if max_request_size:
        options["max_request_size"] = max_request_size
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    await producer.start()
    try:
        futures = []
        for item in records:
            if isinstance(item, CloudEvent):
                record = to_kafka(item, key=item.subject)
                key, value, headers = record.key, record.value, record.headers
            else:
                key, value, headers = item.key, item.value, item.headers
            futures.append(await producer.send(topic, value, key=key, headers=headers))
        sent = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [(TopicPartition(m.topic, m.partition), m.offset) for m in sent]


async def read_topic(bootstrap: str, topic: str, *, quiet_ms: int = 1500) -> list[Any]:
    """Every record on ``topic`` from the beginning, read until the end offsets are reached."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        async with asyncio.timeout(120):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for batch in (await consumer.getmany(timeout_ms=quiet_ms)).values():
                    records.extend(batch)
        return records
    finally:
        await stop_consumer(consumer)


async def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of ``topics``, from fresh cluster metadata; each topic must exist."""
    cluster = await consumer._client.fetch_all_metadata()
    partitions = [
        TopicPartition(t, p) for t in topics for p in cluster.partitions_for_topic(t) or []
    ]
    assert {tp.topic for tp in partitions} == set(topics), f"a topic of {topics} does not exist"
    return partitions


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    # aiokafka 0.14 cancels a task of its own on stop; if that task has not run once yet, the
    # cancellation escapes stop(). One turn of the loop lets it start.
    await asyncio.sleep(0)
    await consumer.stop()


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topics)
        return dict(await consumer.end_offsets(partitions))
    finally:
        await stop_consumer(consumer)


async def committed_offsets(
    bootstrap: str, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    # -1 (or absent): nothing committed yet, i.e. the group starts at the beginning.
    return {tp: max(found[tp].offset, 0) if tp in found else 0 for tp in partitions}


async def wait_caught_up(
    bootstrap: str, group: str, topics: list[str], *, timeout_s: float = 180
) -> None:
    """Until ``group`` has committed the end of every partition of ``topics``: all handled."""
    ends = await end_offsets(bootstrap, topics)
    async with asyncio.timeout(timeout_s):
        while True:
            committed = await committed_offsets(bootstrap, group, list(ends))
            if all(committed[tp] >= end for tp, end in ends.items()):
                return
            await asyncio.sleep(0.5)


async def reset_group_to_beginning(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit offset 0 on every partition for ``group`` (its members must be stopped)."""
    from aiokafka.structs import OffsetAndMetadata

    partitions = list(await end_offsets(bootstrap, topics))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in partitions})
    finally:
        await stop_consumer(consumer)


# ------------------------------------------------------------------------------ results


@dataclass
class Result:
    """One row of docs/reliability.md, written by the scenario before it asserts."""

    order: int
    scenario: str
    load: str
    fault: str
    sent: int
    received: int
    lost: int
    duplicated: int
    notes: str = ""
    passed: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    slug: str = ""  # tells apart several rows of one scenario
    started: float = field(default_factory=time.monotonic)

    def write(self) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{self.order:02d}{'-' + self.slug if self.slug else ''}.json"
        body = {
            "order": self.order,
            "scenario": self.scenario,
            "load": self.load,
            "fault": self.fault,
            "sent": self.sent,
            "received": self.received,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "notes": self.notes,
            "passed": self.passed,
            "details": self.details,
            "duration_s": round(time.monotonic() - self.started, 1),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        return path


async def delivery_statuses(database_url: str) -> dict[str, int]:
    """The notifier's deliveries by status, read from its database."""
    db = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = await db.fetch("SELECT status, count(*) AS n FROM deliveries GROUP BY status")
    finally:
        await db.close()
    return {r["status"]: r["n"] for r in rows}


async def sink_summary(http: httpx.AsyncClient, sink: Service) -> dict[str, Any]:
    summary: dict[str, Any] = (await http.get(sink.url + "/summary")).json()
    return summary


async def sink_received(
    http: httpx.AsyncClient, sink: Service, *, bodies: bool = False
) -> list[dict[str, Any]]:
    params = {"bodies": "1"} if bodies else {}
    received: list[dict[str, Any]] = (await http.get(sink.url + "/received", params=params)).json()
    return received
