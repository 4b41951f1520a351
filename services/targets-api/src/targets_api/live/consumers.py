"""What targets-api does with the case events it consumes."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent
from gov_common.events.registry import EVENT_TYPES, PETITIONS_CASE_EVENTS
from gov_common.messaging.inbox import Handler
from targets_api.live import service


async def _count(session: AsyncSession, event: CloudEvent, _: BaseModel) -> None:
    await service.count_case_event(session, event.type, event.time)


def case_event_handlers() -> dict[str, Handler]:
    return {name: _count for name, e in EVENT_TYPES.items() if e.topic == PETITIONS_CASE_EVENTS}
