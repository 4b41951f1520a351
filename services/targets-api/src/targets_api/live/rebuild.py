"""Rebuild the live figures by replaying the case events from the start of the topic.

Needed when the figures went wrong (a handler bug fixed, a definition corrected): the facts are
cleared, the consumer's inbox forgets what it handled, and the consumer group is moved back to
the earliest record still on the topic. The next consumer to start reads everything again and
sets each case's facts from its events (runbook: docs/runbook.md).

The consumers must be stopped while this runs (their group has no members), or they would
commit newer offsets over the reset. Records older than the topic's retention are gone: if the
earliest offset of a partition is above 0, the rebuild would lose the cases only those records
told about, and it refuses unless told that this is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.contracts import PETITIONS_CASE_EVENTS
from gov_common.messaging.kafka import topic_partitions
from targets_api.db import InboxMessage
from targets_api.live.models import CaseEventTally, CaseFact


class RebuildRefusedError(Exception):
    """The rebuild would be unsafe now; the message says what to do."""


@dataclass(frozen=True)
class ReplayStart:
    """Where each partition's replay begins (its earliest retained offset)."""

    earliest: dict[TopicPartition, int]

    @property
    def retention_gap(self) -> dict[TopicPartition, int]:
        """Partitions whose first records were already deleted by retention."""
        return {tp: offset for tp, offset in self.earliest.items() if offset > 0}


async def check_group_idle(bootstrap_servers: str, group: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    # Raw DescribeGroups responses: per group (error_code, group_id, state, protocol_type,
    # protocol, members, ...).
    members = [m for r in responses for g in r.groups if g[1] == group for m in g[5]]
    if members:
        raise RebuildRefusedError(
            f"consumer group {group!r} has {len(members)} active member(s): stop targets-api's "
            "consumers first (scale the Deployment to 0), then run the rebuild again"
        )


async def replay_start(bootstrap_servers: str, topic: str) -> ReplayStart:
    partitions = [
        TopicPartition(topic, p) for p in await topic_partitions(bootstrap_servers, topic)
    ]
    if not partitions:
        raise RebuildRefusedError(f"topic {topic!r} does not exist on {bootstrap_servers}")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        earliest = await consumer.beginning_offsets(partitions)
    finally:
        await consumer.stop()
    return ReplayStart(dict(earliest))


async def forget_live_figures(session: AsyncSession, group: str) -> dict[str, int]:
    """Clear the facts, the tallies and what the group's inbox remembers: one transaction."""
    removed = {}
    for name, statement in (
        ("case_facts", delete(CaseFact)),
        ("case_event_tallies", delete(CaseEventTally)),
        ("inbox", delete(InboxMessage).where(InboxMessage.consumer == group)),
    ):
        result = await session.execute(statement)
        removed[name] = int(getattr(result, "rowcount", 0) or 0)
    return removed


async def rewind_group(bootstrap_servers: str, group: str, start: ReplayStart) -> None:
    """Commit the earliest offsets as the group's position (what ``kafka-consumer-groups
    --reset-offsets --to-earliest`` does); the group must have no members."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(start.earliest))
        await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in start.earliest.items()})
    finally:
        await consumer.stop()


def case_events_topic(prefix: str) -> str:
    return prefix + PETITIONS_CASE_EVENTS
