"""What the notifier does with each event it consumes."""

from __future__ import annotations

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent
from gov_common.messaging.inbox import Handler
from notifier.config import Settings
from notifier.deliveries import service

log = structlog.get_logger(__name__)


def case_event_handlers(settings: Settings) -> dict[str, Handler]:
    async def on_case_created(session: AsyncSession, event: CloudEvent, _: BaseModel) -> None:
        if settings.webhook_url is None:
            log.warning("notifier.no_webhook_configured", event_id=event.id)
            return
        await service.plan_webhook_delivery(session, event, url=str(settings.webhook_url))

    return {"gov.petitions.case.created.v1": on_case_created}
