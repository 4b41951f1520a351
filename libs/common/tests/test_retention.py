"""Retention of the outbox, inbox and idempotency tables: old rows go in batches, young rows
and unpublished outbox rows stay; an inbox retention shorter than the topics' is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select

from gov_common.db import unit_of_work
from gov_common.messaging.retention import (
    idempotency_rule,
    inbox_rule,
    outbox_rule,
    prune,
    prune_table,
)
from gov_common.settings import ServiceSettings

from .conftest import CommonDb, IdempotencyRow, InboxRow, OutboxRow

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def _settings(**values: float) -> ServiceSettings:
    return ServiceSettings.model_validate(
        {
            "GOV_OUTBOX_RETENTION_DAYS": 7,
            "GOV_INBOX_RETENTION_DAYS": 90,
            "GOV_IDEMPOTENCY_RETENTION_DAYS": 2,
            **values,
        }
    )


def _outbox(note: str, *, created: datetime, sent: datetime | None) -> dict[str, object]:
    return {
        "event_id": f"{note}-{uuid.uuid4().hex[:8]}",
        "event_type": "gov.test.thing.happened.v1",
        "topic": "t",
        "message_key": note,
        "headers": [],
        "payload": b"{}",
        "created_at": created,
        "sent_at": sent,
    }


async def _keys(db: CommonDb, model: type, column: str) -> set[str]:
    async with db.sessions() as session:
        return set((await session.execute(select(getattr(model, column)))).scalars())


@pytest.fixture
async def tables(common_db: CommonDb) -> CommonDb:
    async with unit_of_work(common_db.sessions) as session:
        for model in (OutboxRow, InboxRow, IdempotencyRow):
            await session.execute(delete(model))
    return common_db


@pytest.mark.integration
async def test_published_outbox_rows_past_retention_go_unpublished_and_young_ones_stay(
    tables: CommonDb,
) -> None:
    rows = [
        _outbox("old-sent", created=NOW - 30 * DAY, sent=NOW - 29 * DAY),
        _outbox("old-unsent", created=NOW - 30 * DAY, sent=None),
        _outbox("young-sent", created=NOW - 2 * DAY, sent=NOW - 2 * DAY),
        # created long ago but published only yesterday (the relay was away): it stays.
        _outbox("late-sent", created=NOW - 30 * DAY, sent=NOW - DAY),
    ]
    async with unit_of_work(tables.sessions) as session:
        await session.execute(insert(OutboxRow), rows)
    pruned = await prune(
        tables.sessions, [outbox_rule(OutboxRow, _settings())], batch_size=10, now=NOW
    )
    assert pruned == {"outbox": 1}
    left = await _keys(tables, OutboxRow, "message_key")
    assert left == {"old-unsent", "young-sent", "late-sent"}


@pytest.mark.integration
async def test_inbox_and_idempotency_rows_past_retention_go_in_batches(tables: CommonDb) -> None:
    settings = _settings()
    async with unit_of_work(tables.sessions) as session:
        await session.execute(
            insert(InboxRow),
            [
                {
                    "consumer": "c",
                    "event_id": f"old-{i}",
                    "event_type": "x",
                    "processed_at": NOW - 91 * DAY,
                }
                for i in range(25)
            ]
            + [
                {
                    "consumer": "c",
                    "event_id": "young",
                    "event_type": "x",
                    "processed_at": NOW - 89 * DAY,
                }
            ],
        )
        await session.execute(
            insert(IdempotencyRow),
            [
                {"scope": "s", "key": "old", "request_hash": "h", "created_at": NOW - 3 * DAY},
                {"scope": "s", "key": "young", "request_hash": "h", "created_at": NOW - DAY},
            ],
        )
    # Batches of 10: three transactions for the 25 old inbox rows; two batches stop at 20.
    deleted = await prune_table(
        tables.sessions, inbox_rule(InboxRow, settings), batch_size=10, now=NOW, max_batches=2
    )
    assert deleted == 20
    pruned = await prune(
        tables.sessions,
        [inbox_rule(InboxRow, settings), idempotency_rule(IdempotencyRow, settings)],
        batch_size=10,
        now=NOW,
    )
    assert pruned == {"inbox": 5, "idempotency_keys": 1}
    assert await _keys(tables, InboxRow, "event_id") == {"young"}
    assert await _keys(tables, IdempotencyRow, "key") == {"young"}
    async with tables.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(InboxRow))).scalar() == 1


def test_an_inbox_retention_not_longer_than_topic_plus_dead_letter_retention_is_refused() -> None:
    with pytest.raises(ValidationError, match="GOV_INBOX_RETENTION_DAYS=60 must be longer"):
        _settings(GOV_INBOX_RETENTION_DAYS=60)  # topics 14 + dead letters 56 = 70
    with pytest.raises(ValidationError, match="= 100"):
        _settings(
            GOV_INBOX_RETENTION_DAYS=90,
            GOV_TOPIC_RETENTION_DAYS=30,
            GOV_DEAD_LETTER_RETENTION_DAYS=70,
        )
    assert _settings(GOV_INBOX_RETENTION_DAYS=71).inbox_retention_days == 71
