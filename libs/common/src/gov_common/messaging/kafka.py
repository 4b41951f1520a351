"""Kafka plumbing shared by the relay and the consumers."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from gov_common.events.registry import TOPICS, TopicContract, dead_letter_topic

log = structlog.get_logger(__name__)

TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


def new_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    # aiokafka defaults to acks=1 without idempotence; events must not be lost or reordered.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=15000,
        # No lingering: a lone event (the usual case at a district's rates) leaves at once;
        # under load records still batch while the previous request is in flight.
        linger_ms=0,
    )


async def ensure_topics(
    bootstrap_servers: str,
    contracts: Iterable[TopicContract | str],
    *,
    prefix: str = "",
    replication_factor: int = 1,
) -> None:
    """Create each topic and its dead-letter topic if missing (no-op for existing ones)."""
    wanted: list[NewTopic] = []
    for item in contracts:
        contract = TOPICS[item] if isinstance(item, str) else item
        config = {"retention.ms": str(contract.retention_ms)}
        wanted.append(
            NewTopic(
                prefix + contract.name,
                num_partitions=contract.partitions,
                replication_factor=replication_factor,
                topic_configs=config,
            )
        )
        # Dead letters wait for a person, so they are kept four times as long.
        dlq_config = {"retention.ms": str(4 * contract.retention_ms)}
        wanted.append(
            NewTopic(
                prefix + contract.dead_letter,
                num_partitions=1,
                replication_factor=replication_factor,
                topic_configs=dlq_config,
            )
        )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if not missing:
            return
        response = await admin.create_topics(missing)
        for topic, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"cannot create topic {topic}: error {code} {rest}")
        log.info("kafka.topics_created", topics=[t.name for t in missing])
    finally:
        await admin.close()


async def broker_reachable(bootstrap_servers: str, *, timeout_s: float = 1.0) -> bool:
    """True when a bootstrap server accepts a TCP connection now.

    A client's own state says too little: aiokafka retries a lost broker quietly, so a
    consumer looks healthy while it fetches nothing. Readiness asks the network instead.
    """
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host.strip("[]") or "localhost", int(port)), timeout_s
            )
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
    return False


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 30.0) -> float:
    """Exponential backoff with jitter ("equal jitter"; attempt counts from 1).

    Half the delay is fixed so retries never hammer, half is random so replicas spread out.
    """
    delay = min(cap, base * 2.0 ** (attempt - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto


__all__ = [
    "backoff_delay",
    "broker_reachable",
    "dead_letter_topic",
    "ensure_topics",
    "new_producer",
]


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[int]:
    """The partition numbers of ``topic`` from fresh cluster metadata; [] if it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"]:  # e.g. 3, unknown topic
        return []
    return sorted(p["partition"] for p in described["partitions"])
