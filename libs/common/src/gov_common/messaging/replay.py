"""Replay a dead-letter topic: send its records back to the topic they failed on.

Run it once the cause is fixed (a handler bug deployed, a missing recipient added)::

    python -m gov_common.messaging.replay petitions.case-events --consumer notifier --dry-run
    python -m gov_common.messaging.replay petitions.case-events --consumer notifier

A dead letter is the original record plus ``dlq_*`` headers (:mod:`gov_common.messaging.inbox`).
The replay strips those headers and produces the original key, value and headers to the topic
named in ``dlq_original_topic``, so the event keeps its id and its partition (same key). Every
consumer group of that topic reads it again; the groups that handled it the first time skip it
through their inbox, and the one that dead-lettered it (a dead letter leaves no inbox row: its
transaction rolled back) handles it now, or dead-letters it again.

Where it got to is committed as the consumer group ``gov-dlq-replay.<topic>.<consumer|all>``,
so a second run replays only what was dead-lettered since, and an interrupted run resumes
(a record sent just before an interruption may be sent again: the inboxes absorb it). Records
passed over by ``--since`` are passed over for good by that selection. A record whose value was
cut to fit the dead-letter topic (``dlq_value_truncated``) cannot be replayed: it is listed with
its original partition and offset, to be recovered from the source (the producer's outbox).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gov_common.events.contracts import dead_letter_topic
from gov_common.messaging.inbox import (
    DLQ_CONSUMER,
    DLQ_FAILED_AT,
    DLQ_ORIGINAL_OFFSET,
    DLQ_ORIGINAL_PARTITION,
    DLQ_ORIGINAL_TOPIC,
    DLQ_REASON,
    DLQ_VALUE_TRUNCATED,
)
from gov_common.messaging.kafka import new_producer, topic_partitions


def replay_group(topic: str, consumer: str | None) -> str:
    """The consumer group that remembers how far the dead letters of ``topic`` were replayed
    (for one consumer's dead letters, or all): each selection resumes where it stopped."""
    return f"gov-dlq-replay.{topic}.{consumer or 'all'}"


class KafkaSettings(BaseSettings):
    """The two settings the replay needs, read as the services read them (a replay Job need
    not carry the services' secrets)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field(default="127.0.0.1:29092", alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_topic_prefix: str = Field(default="", alias="GOV_KAFKA_TOPIC_PREFIX")


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped_other_consumer: int = 0
    skipped_before_since: int = 0
    # (original partition, original offset, reason) of records that cannot be sent back.
    not_replayable: list[tuple[str, str, str]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def lines(self, *, dry_run: bool) -> list[str]:
        verb = "would replay" if dry_run else "replayed"
        out = [
            f"{verb}: {self.replayed}",
            f"skipped (another consumer's): {self.skipped_other_consumer}",
            f"skipped (dead-lettered before --since): {self.skipped_before_since}",
        ]
        out += [f"  reason x{n}: {reason}" for reason, n in self.reasons.most_common(10)]
        for partition, offset, why in self.not_replayable:
            out.append(f"NOT replayable: original partition {partition} offset {offset}: {why}")
        return out


def _headers(record: Any) -> dict[str, bytes]:
    return {k: v for k, v in (record.headers or ())}


async def replay_dead_letters(
    bootstrap_servers: str,
    topic: str,
    *,
    consumer: str | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    idle_ms: int = 2000,
) -> ReplayReport:
    """Send the dead letters of ``topic`` (the full name, prefix included) back to it; only
    those of ``consumer`` (a consumer group name) if given, only those dead-lettered at or after
    ``since`` if given. Reads up to the end offsets seen at the start."""
    dlq = dead_letter_topic(topic)
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=replay_group(topic, consumer),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = new_producer(bootstrap_servers, client_id=f"dlq-replay-{topic}")
    report = ReplayReport()
    await reader.start()
    await producer.start()
    try:
        partitions = [
            TopicPartition(dlq, p) for p in await topic_partitions(bootstrap_servers, dlq)
        ]
        if not partitions:
            raise SystemExit(f"no dead-letter topic {dlq!r} on {bootstrap_servers}")
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        while [tp for tp in partitions if await reader.position(tp) < ends[tp]]:
            batches = await reader.getmany(timeout_ms=idle_ms)
            if not batches:
                break
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue  # dead-lettered while we run: the next run takes it
                    await _replay_one(record, report, producer, consumer, since, dry_run)
                if not dry_run and records:
                    await reader.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
    finally:
        await producer.stop()
        await reader.stop()
    return report


async def _replay_one(
    record: Any,
    report: ReplayReport,
    producer: Any,
    consumer: str | None,
    since: datetime | None,
    dry_run: bool,
) -> None:
    headers = _headers(record)
    if consumer is not None and headers.get(DLQ_CONSUMER, b"").decode() != consumer:
        report.skipped_other_consumer += 1
        return
    failed_at = headers.get(DLQ_FAILED_AT)
    if since is not None and failed_at and datetime.fromisoformat(failed_at.decode()) < since:
        report.skipped_before_since += 1
        return
    original_topic = headers.get(DLQ_ORIGINAL_TOPIC, b"").decode()
    where = (
        headers.get(DLQ_ORIGINAL_PARTITION, b"?").decode(),
        headers.get(DLQ_ORIGINAL_OFFSET, b"?").decode(),
    )
    if DLQ_VALUE_TRUNCATED in headers or not original_topic:
        why = "value truncated" if original_topic else "no dlq_original_topic header"
        report.not_replayable.append((*where, why))
        return
    report.reasons[headers.get(DLQ_REASON, b"").decode()[:200]] += 1
    report.replayed += 1
    if dry_run:
        return
    original = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")]
    await producer.send_and_wait(original_topic, record.value, key=record.key, headers=original)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gov_common.messaging.replay",
        description="Send the dead letters of a topic back to it (docs/runbook.md).",
    )
    parser.add_argument("topic", help="the topic the records failed on, without the prefix")
    parser.add_argument("--consumer", help="only the dead letters of this consumer group")
    parser.add_argument(
        "--since", type=datetime.fromisoformat, help="only those dead-lettered at/after (ISO)"
    )
    parser.add_argument("--dry-run", action="store_true", help="count, send nothing")
    args = parser.parse_args(argv)
    settings = KafkaSettings()
    report = asyncio.run(
        replay_dead_letters(
            settings.kafka_bootstrap_servers,
            settings.kafka_topic_prefix + args.topic,
            consumer=args.consumer,
            since=args.since,
            dry_run=args.dry_run,
        )
    )
    print("\n".join(report.lines(dry_run=args.dry_run)))
    return 1 if report.not_replayable else 0


if __name__ == "__main__":
    sys.exit(main())
