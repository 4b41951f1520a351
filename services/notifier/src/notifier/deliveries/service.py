"""Rules of delivery: which deliveries an event makes, how a receiver's answer is judged,
and when to try again. No HTTP server and no Kafka here."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent
from gov_common.messaging.kafka import backoff_delay
from gov_common.problems import NotFoundError
from notifier.deliveries.models import Delivery, DeliveryStatus

WEBHOOK = "webhook"
# The one built-in rule until subscription rules exist: every case event to the webhook.
CASE_EVENTS_TO_WEBHOOK = "case-events-to-webhook"
# A claimed delivery is invisible to other dispatchers this long; a crash mid-send only
# delays it. Longer than any webhook timeout.
CLAIM_LEASE = timedelta(seconds=120)


def idempotency_key(event_id: str, rule: str, recipient: str, channel: str) -> str:
    """Deterministic: redelivered events and replayed topics map to the same delivery."""
    return hashlib.sha256(f"{event_id}\x1f{rule}\x1f{recipient}\x1f{channel}".encode()).hexdigest()


def webhook_body(event: CloudEvent) -> dict[str, Any]:
    """The event in CloudEvents structured JSON, as the receiver gets it."""
    return event.model_dump(mode="json", exclude_none=True, exclude={"traceparent"})


async def plan_webhook_delivery(
    session: AsyncSession, event: CloudEvent, *, url: str
) -> uuid.UUID | None:
    """Record the delivery of ``event`` to ``url``; None when it was already recorded."""
    key = idempotency_key(event.id, CASE_EVENTS_TO_WEBHOOK, url, WEBHOOK)
    inserted = await session.execute(
        insert(Delivery)
        .values(
            id=uuid.uuid4(),
            idempotency_key=key,
            event_id=event.id,
            event_type=event.type,
            subject=event.subject,
            rule=CASE_EVENTS_TO_WEBHOOK,
            recipient=url,
            channel=WEBHOOK,
            body=webhook_body(event),
            status=DeliveryStatus.PENDING,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=[Delivery.idempotency_key])
        .returning(Delivery.id)
    )
    return inserted.scalar_one_or_none()


@dataclass(frozen=True)
class Attempt:
    """What one try at sending produced."""

    status_code: int | None
    error: str | None = None


def judge(attempt: Attempt) -> DeliveryStatus | None:
    """Succeeded, failed for good, or None: try again later."""
    code = attempt.status_code
    if code is not None and 200 <= code < 300:
        return DeliveryStatus.SUCCEEDED
    # A receiver that says the request itself is wrong will say so again; timeouts,
    # throttling and server errors may pass.
    if code is not None and 400 <= code < 500 and code not in (408, 409, 425, 429):
        return DeliveryStatus.FAILED
    return None


def next_attempt_at(now: datetime, attempts: int, *, base_s: float, cap_s: float) -> datetime:
    return now + timedelta(seconds=backoff_delay(attempts, base=base_s, cap=cap_s))


async def claim_due(session: AsyncSession, *, limit: int) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for this dispatcher, leasing them for a while."""
    now = datetime.now(UTC)
    due = (
        select(Delivery.id)
        .where(and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now))
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + CLAIM_LEASE, attempts=Delivery.attempts + 1)
        .returning(Delivery)
    )
    return list(claimed.all())


async def record_attempt(
    session: AsyncSession,
    delivery: Delivery,
    attempt: Attempt,
    *,
    max_attempts: int,
    retry_base_s: float,
    retry_cap_s: float,
) -> DeliveryStatus:
    now = datetime.now(UTC)
    verdict = judge(attempt)
    if verdict is None and delivery.attempts >= max_attempts:
        verdict = DeliveryStatus.FAILED
    error = attempt.error
    if error is None and verdict is not DeliveryStatus.SUCCEEDED:
        error = f"receiver answered HTTP {attempt.status_code}"
    values: dict[str, Any] = {"response_status": attempt.status_code, "last_error": error}
    if verdict is DeliveryStatus.SUCCEEDED:
        values |= {"status": verdict, "delivered_at": now, "last_error": None}
    elif verdict is DeliveryStatus.FAILED:
        values |= {"status": verdict}
    else:
        values["next_attempt_at"] = next_attempt_at(
            now, delivery.attempts, base_s=retry_base_s, cap_s=retry_cap_s
        )
    await session.execute(update(Delivery).where(Delivery.id == delivery.id).values(**values))
    return verdict or DeliveryStatus.PENDING


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFoundError("delivery", delivery_id)
    return delivery


def encode_body(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)
