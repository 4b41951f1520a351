"""What targets-api does with the case events it consumes.

Every case event is tallied; created / resolved / closed / reopened / repeat_changed update
the case's facts behind the first-time grassroots resolution rate, and the live indicators'
statuses. The
consumer's inbox runs each event once; the facts being *set* makes a replay harmless too.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.clock import today_in_china
from gov_common.events import CloudEvent
from gov_common.events.registry import EVENT_TYPES, PETITIONS_CASE_EVENTS
from gov_common.messaging.inbox import Handler
from targets_api.config import Settings
from targets_api.indicators import service as indicators
from targets_api.live import service


def _occurred_at(event: CloudEvent) -> datetime:
    for name in ("occurred_at", "created_at"):
        raw = event.data.get(name)
        if raw:
            try:
                return datetime.fromisoformat(str(raw))
            except ValueError:
                break
    return event.time


def case_event_handlers(settings: Settings | None = None) -> dict[str, Handler]:
    async def handle(session: AsyncSession, event: CloudEvent, _: BaseModel) -> None:
        await service.count_case_event(session, event.type, event.time)
        changed = await service.apply_case_event(
            session, event.type, event.data, _occurred_at(event)
        )
        if changed and settings is not None:
            await indicators.refresh_live_indicators(
                session, service.FIRST_TIME_GRASSROOTS_RATE, today_in_china(), settings
            )

    return {name: handle for name, e in EVENT_TYPES.items() if e.topic == PETITIONS_CASE_EVENTS}
