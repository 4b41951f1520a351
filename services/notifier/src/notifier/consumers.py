"""What the notifier does with each event it consumes: plan its deliveries.

Every registered type on the consumed topics has a handler, so a rule may name any of them;
the deliveries are written in the consumer's transaction together with its inbox row.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import EVENT_TYPES, CloudEvent
from gov_common.events.contracts import NOTIFIER_DELIVERY_EVENTS
from gov_common.events.petitions import CASE_CREATED_V1
from gov_common.messaging.inbox import Handler
from gov_common.security.crypto import FieldCipher
from gov_common.security.setup import field_cipher
from notifier.config import Settings
from notifier.deliveries import planning, service
from notifier.deliveries.dispatcher import DeliveryDispatcher

log = structlog.get_logger(__name__)


def event_handlers(
    settings: Settings,
    topics: list[str],
    *,
    cipher: FieldCipher | None = None,
    dispatcher: DeliveryDispatcher | None = None,
) -> dict[str, Handler]:
    """``dispatcher``: sends the deliveries that are due at once, right after the commit;
    without one they wait for a dispatcher's claim round."""
    events_topic = settings.topic(NOTIFIER_DELIVERY_EVENTS)
    sealer = cipher or field_cipher(settings)
    lease = timedelta(seconds=settings.claim_lease_s)

    async def on_event(session: AsyncSession, event: CloudEvent, payload: BaseModel) -> None:
        # Deliveries due now are claimed as they are planned and sent once this transaction
        # commits: no hand-off to a claim round (DeliveryDispatcher.send_after_commit).
        send_now = (
            service.SendNow(lease=lease, take=dispatcher.take_send)
            if dispatcher is not None
            else None
        )
        if event.type == CASE_CREATED_V1 and settings.webhook_url is not None:
            await service.plan_webhook_delivery(
                session, event, url=str(settings.webhook_url), cipher=sealer, send_now=send_now
            )
        planned = await planning.plan_rule_deliveries(
            session, event, payload, events_topic=events_topic, cipher=sealer, send_now=send_now
        )
        log.info("notifier.event_planned", event_id=event.id, event_type=event.type, new=planned)
        if dispatcher is not None and send_now is not None:
            dispatcher.send_after_commit(session, send_now.claimed, wake=send_now.refused > 0)

    return {name: on_event for name, e in EVENT_TYPES.items() if e.topic in topics}
