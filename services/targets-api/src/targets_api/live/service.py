"""Keeping live figures from consumed events. Called inside the consumer's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from targets_api.live.models import CaseEventTally


async def count_case_event(session: AsyncSession, event_type: str, at: datetime) -> None:
    statement = insert(CaseEventTally).values(event_type=event_type, count=1, last_event_at=at)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CaseEventTally.event_type],
            set_={
                "count": CaseEventTally.count + 1,
                "last_event_at": statement.excluded.last_event_at,
            },
        )
    )


async def case_event_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(CaseEventTally.event_type, CaseEventTally.count))
    return {event_type: count for event_type, count in rows.all()}
