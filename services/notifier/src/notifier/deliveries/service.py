"""Rules of delivery: the deterministic key, how an attempt's outcome changes a delivery,
when to try again, and manual retries. No HTTP server and no Kafka here."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent
from gov_common.messaging.kafka import backoff_delay
from gov_common.problems import NotFoundError, ProblemError
from gov_common.security.crypto import FieldCipher
from gov_common.tracing import current_traceparent
from notifier.channels.base import Attempt, ChannelName
from notifier.deliveries import events
from notifier.deliveries.models import Delivery, DeliveryStatus
from notifier.privacy import delivery_context, scrub

WEBHOOK = ChannelName.WEBHOOK.value
# The built-in rule from NOTIFIER_WEBHOOK_URL: every case.created to that webhook.
CASE_EVENTS_TO_WEBHOOK = "case-events-to-webhook"


def idempotency_key(event_id: str, rule: str, recipient: str, channel: str) -> str:
    """Deterministic: redelivered events and replayed topics map to the same delivery."""
    return hashlib.sha256(f"{event_id}\x1f{rule}\x1f{recipient}\x1f{channel}".encode()).hexdigest()


def webhook_body(event: CloudEvent) -> dict[str, Any]:
    """The event in CloudEvents structured JSON, as the receiver gets it."""
    return event.model_dump(mode="json", exclude_none=True, exclude={"traceparent"})


async def insert_delivery(
    session: AsyncSession, *, cipher: FieldCipher, address: str, **values: Any
) -> uuid.UUID | None:
    """Insert a delivery unless its idempotency key exists; its id, or None when it did.
    The address is stored encrypted, bound to the delivery."""
    delivery_id = uuid.uuid4()
    sealed = cipher.encrypt(address, context=delivery_context(delivery_id))
    # Planned inside the consumer's span: the send, later, continues the case's trace.
    values.setdefault("traceparent", current_traceparent())
    inserted = await session.execute(
        insert(Delivery)
        .values(id=delivery_id, attempts=0, recipient=sealed, **values)
        .on_conflict_do_nothing(index_elements=[Delivery.idempotency_key])
        .returning(Delivery.id)
    )
    return inserted.scalar_one_or_none()


async def plan_webhook_delivery(
    session: AsyncSession, event: CloudEvent, *, url: str, cipher: FieldCipher
) -> uuid.UUID | None:
    """The built-in rule: record the delivery of ``event`` to ``url``; None when recorded."""
    return await insert_delivery(
        session,
        cipher=cipher,
        address=url,
        idempotency_key=idempotency_key(event.id, CASE_EVENTS_TO_WEBHOOK, url, WEBHOOK),
        event_id=event.id,
        event_type=event.type,
        subject=event.subject,
        rule=CASE_EVENTS_TO_WEBHOOK,
        channel=WEBHOOK,
        body=webhook_body(event),
        status=DeliveryStatus.PENDING,
    )


def next_attempt_at(now: datetime, attempts: int, *, base_s: float, cap_s: float) -> datetime:
    return now + timedelta(seconds=backoff_delay(attempts, base=base_s, cap=cap_s))


async def claim_due(
    session: AsyncSession, *, limit: int, lease: timedelta, channels: list[str] | None = None
) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for this dispatcher, leasing them for a while.

    The attempt is counted at claim time, so a dispatcher that dies mid-send still used one.
    """
    now = datetime.now(UTC)
    due = (
        select(Delivery.id)
        .where(and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now))
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if channels is not None:
        due = due.where(Delivery.channel.in_(channels))
    claimed = await session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + lease, attempts=Delivery.attempts + 1)
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
    events_topic: str,
    address: str | None = None,
) -> DeliveryStatus:
    """Apply one attempt's outcome; a final state writes its event to the outbox.

    The error is scrubbed of addresses (``address``, the delivery's own, and anything that
    looks like one) before it is stored in ``last_error`` and published as the reason.
    """
    now = datetime.now(UTC)
    values: dict[str, Any] = {"response_status": attempt.status_code}
    if attempt.ok:
        verdict = DeliveryStatus.SUCCEEDED
        values |= {"status": verdict, "delivered_at": now, "last_error": None}
    else:
        error = scrub(attempt.error or "the receiver did not accept the message", [address])
        if attempt.permanent:
            verdict, reason = DeliveryStatus.FAILED, error
        elif delivery.attempts >= max_attempts:
            verdict = DeliveryStatus.FAILED
            reason = f"gave up after {delivery.attempts} attempts; last error: {error}"
        else:
            verdict, reason = DeliveryStatus.PENDING, error
        values["last_error"] = reason[:4000]
        if verdict is DeliveryStatus.FAILED:
            values["status"] = verdict
        else:
            values["next_attempt_at"] = next_attempt_at(
                now, delivery.attempts, base_s=retry_base_s, cap_s=retry_cap_s
            )
    # Only a delivery still pending and still at this attempt is changed: a manual retry or
    # another dispatcher after a lost lease must not be overwritten by a late result.
    changed = await session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery.id,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.attempts == delivery.attempts,
        )
        .values(**values)
        .returning(Delivery.id)
    )
    if changed.first() is None:
        return verdict
    if verdict is DeliveryStatus.SUCCEEDED:
        await events.delivery_succeeded(
            session, delivery, topic=events_topic, attempts=delivery.attempts, at=now
        )
    elif verdict is DeliveryStatus.FAILED:
        await events.delivery_failed(
            session,
            delivery,
            topic=events_topic,
            attempts=delivery.attempts,
            reason=values["last_error"],
            at=now,
        )
    return verdict


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFoundError("delivery", delivery_id)
    return delivery


async def retry_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> Delivery:
    """A person asks for a failed delivery to be tried again, with a fresh set of attempts."""
    delivery = await get_delivery(session, delivery_id)
    if delivery.status is not DeliveryStatus.FAILED:
        raise ProblemError(
            409,
            f"delivery {delivery_id} is {delivery.status.value}; only a failed delivery "
            "can be retried",
            problem_type="conflict",
        )
    await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=datetime.now(UTC))
    )
    await session.refresh(delivery)
    return delivery
