"""targets-api prunes its outbox (published rows), inbox and idempotency keys past their
retention, with the background pruner it runs and with ``python -m targets_api.retention``."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from gov_common.db import unit_of_work
from gov_common.messaging.retention import RetentionPruner, prune_once
from targets_api import retention
from targets_api.config import Settings
from targets_api.db import IdempotencyKey, InboxMessage, OutboxMessage

pytestmark = pytest.mark.integration


async def _plant(app: FastAPI, tag: str) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    outbox = {
        "event_type": "gov.test.v1",
        "topic": "t",
        "headers": [],
        "payload": b"{}",
        "created_at": long_ago,
    }
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            insert(OutboxMessage),
            [
                {**outbox, "event_id": f"{tag}-sent", "sent_at": long_ago},
                {**outbox, "event_id": f"{tag}-unsent", "sent_at": None},
                {**outbox, "event_id": f"{tag}-young", "sent_at": datetime.now(UTC)},
            ],
        )
        await session.execute(
            insert(InboxMessage),
            [
                {"consumer": tag, "event_id": "old", "event_type": "x", "processed_at": long_ago},
                {"consumer": tag, "event_id": "young", "event_type": "x"},
            ],
        )
        await session.execute(
            insert(IdempotencyKey),
            [
                {"scope": tag, "key": "old", "request_hash": "h", "created_at": long_ago},
                {"scope": tag, "key": "young", "request_hash": "h"},
            ],
        )


async def _left(app: FastAPI, tag: str) -> tuple[set[str], set[str], set[str]]:
    async with app.state.sessions() as session:
        outbox = set(
            (
                await session.scalars(
                    select(OutboxMessage.event_id).where(OutboxMessage.event_id.like(f"{tag}-%"))
                )
            ).all()
        )
        inbox = set(
            (
                await session.scalars(
                    select(InboxMessage.event_id).where(InboxMessage.consumer == tag)
                )
            ).all()
        )
        keys = set(
            (
                await session.scalars(select(IdempotencyKey.key).where(IdempotencyKey.scope == tag))
            ).all()
        )
    return outbox, inbox, keys


async def test_the_cli_pass_deletes_what_is_past_retention_and_keeps_the_rest(
    app: FastAPI, settings: Settings
) -> None:
    tag = f"r{uuid.uuid4().hex[:8]}"
    await _plant(app, tag)
    assert await prune_once(settings.database_url, retention.rules(settings), 2) == 0
    outbox, inbox, keys = await _left(app, tag)
    assert (outbox, inbox, keys) == ({f"{tag}-unsent", f"{tag}-young"}, {"young"}, {"young"})


async def test_the_background_pruner_does_the_same(app: FastAPI, settings: Settings) -> None:
    tag = f"r{uuid.uuid4().hex[:8]}"
    await _plant(app, tag)
    pruner = RetentionPruner(app.state.sessions, retention.rules(settings), settings)
    task = asyncio.create_task(pruner.run())
    try:
        for _ in range(200):
            if (await _left(app, tag))[0] == {f"{tag}-unsent", f"{tag}-young"}:
                break
            await asyncio.sleep(0.05)
    finally:
        pruner.stop()
        await asyncio.wait_for(task, timeout=30)
    outbox, inbox, keys = await _left(app, tag)
    assert (outbox, inbox, keys) == ({f"{tag}-unsent", f"{tag}-young"}, {"young"}, {"young"})
