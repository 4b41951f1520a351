"""Rules of delivery: the deterministic key, how an attempt's outcome changes a delivery,
when to try again, and manual retries. No HTTP server and no Kafka here."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    and_,
    cast,
    column,
    func,
    select,
    update,
    values,
)
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


@dataclass
class SendNow:
    """Deliveries due now are claimed as they are planned, to be sent the moment the planning
    transaction commits (see DeliveryDispatcher.send_after_commit for the protocol).

    ``take(channel)`` takes a send from the channel's rate without waiting; a delivery it
    refuses is planned unclaimed, for the dispatcher's throttled claim rounds (``refused``).
    """

    lease: timedelta
    take: Callable[[str], bool]
    claimed: list[Delivery] = field(default_factory=list)
    refused: int = 0


async def insert_delivery(
    session: AsyncSession,
    *,
    cipher: FieldCipher,
    address: str,
    send_now: SendNow | None = None,
    **values: Any,
) -> uuid.UUID | None:
    """Insert a delivery unless its idempotency key exists; its id, or None when it did.
    The address is stored encrypted, bound to the delivery."""
    delivery_id = uuid.uuid4()
    sealed = cipher.encrypt(address, context=delivery_context(delivery_id))
    # Planned inside the consumer's span: the send, later, continues the case's trace.
    values.setdefault("traceparent", current_traceparent())
    values |= {"id": delivery_id, "attempts": 0, "recipient": sealed}
    new = insert(Delivery).on_conflict_do_nothing(index_elements=[Delivery.idempotency_key])
    due_now = values.get("status") is DeliveryStatus.PENDING and "next_attempt_at" not in values
    if send_now is not None and due_now and not send_now.take(values["channel"]):
        send_now.refused += 1
    elif send_now is not None and due_now:
        # Claimed as claim_due claims: one attempt counted, leased.
        values |= {"attempts": 1, "next_attempt_at": datetime.now(UTC) + send_now.lease}
        claimed = await session.scalars(new.values(**values).returning(Delivery))
        delivery = claimed.one_or_none()
        if delivery is not None:
            send_now.claimed.append(delivery)
        return delivery.id if delivery is not None else None
    inserted = await session.execute(new.values(**values).returning(Delivery.id))
    return inserted.scalar_one_or_none()


async def plan_webhook_delivery(
    session: AsyncSession,
    event: CloudEvent,
    *,
    url: str,
    cipher: FieldCipher,
    send_now: SendNow | None = None,
) -> uuid.UUID | None:
    """The built-in rule: record the delivery of ``event`` to ``url``; None when recorded."""
    return await insert_delivery(
        session,
        cipher=cipher,
        address=url,
        send_now=send_now,
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


@dataclass(frozen=True)
class Outcome:
    """What one attempt does to its delivery: the columns to set and the verdict."""

    delivery: Delivery
    verdict: DeliveryStatus
    values: dict[str, Any]


def judge(
    delivery: Delivery,
    attempt: Attempt,
    *,
    now: datetime,
    max_attempts: int,
    retry_base_s: float,
    retry_cap_s: float,
    address: str | None = None,
) -> Outcome:
    """The new state of a claimed delivery after ``attempt``.

    The error is scrubbed of addresses (``address``, the delivery's own, and anything that
    looks like one) before it is stored in ``last_error`` and published as the reason.
    """
    values: dict[str, Any] = {
        "response_status": attempt.status_code,
        "delivered_at": None,
        "next_attempt_at": None,
    }
    if attempt.ok:
        verdict = DeliveryStatus.SUCCEEDED
        values |= {"delivered_at": now, "last_error": None}
    else:
        error = scrub(attempt.error or "the receiver did not accept the message", [address])
        if attempt.permanent:
            verdict, reason = DeliveryStatus.FAILED, error
        elif delivery.attempts >= max_attempts:
            verdict = DeliveryStatus.FAILED
            reason = f"gave up after {delivery.attempts} attempts; last error: {error}"
        else:
            verdict, reason = DeliveryStatus.PENDING, error
            values["next_attempt_at"] = next_attempt_at(
                now, delivery.attempts, base_s=retry_base_s, cap_s=retry_cap_s
            )
        values["last_error"] = reason[:4000]
    return Outcome(delivery, verdict, values)


async def record_attempts(
    session: AsyncSession,
    attempts: Sequence[tuple[Delivery, Attempt, str | None]],
    *,
    max_attempts: int,
    retry_base_s: float,
    retry_cap_s: float,
    events_topic: str,
) -> list[DeliveryStatus]:
    """Apply the outcomes of a batch of ``(delivery, attempt, address)``: one UPDATE for all,
    one INSERT of the outcome events of those that reached a final state."""
    if not attempts:
        return []
    now = datetime.now(UTC)
    outcomes = [
        judge(
            delivery,
            attempt,
            now=now,
            max_attempts=max_attempts,
            retry_base_s=retry_base_s,
            retry_cap_s=retry_cap_s,
            address=address,
        )
        for delivery, attempt, address in attempts
    ]
    table = Delivery.__table__
    moment = DateTime(timezone=True)
    batch = (
        values(
            column("id", table.c.id.type),
            column("attempts", Integer),
            column("status", String),
            column("response_status", Integer),
            column("last_error", Text),
            column("delivered_at", DateTime(timezone=True)),
            column("next_attempt_at", DateTime(timezone=True)),
            name="outcome",
        )
        .data(
            [
                (
                    o.delivery.id,
                    o.delivery.attempts,
                    o.verdict.value,
                    o.values["response_status"],
                    o.values["last_error"],
                    o.values["delivered_at"],
                    o.values["next_attempt_at"],
                )
                for o in outcomes
            ]
        )
        .alias("outcome")
    )
    # A column of NULLs only in VALUES is typed text by PostgreSQL: hence the casts below.
    # Only a delivery still pending and still at this attempt is changed: a manual retry or
    # another dispatcher after a lost lease must not be overwritten by a late result.
    changed = set(
        (
            await session.scalars(
                update(Delivery)
                .where(
                    Delivery.id == batch.c.id,
                    Delivery.status == DeliveryStatus.PENDING,
                    Delivery.attempts == batch.c.attempts,
                )
                .values(
                    status=batch.c.status,
                    response_status=cast(batch.c.response_status, Integer),
                    last_error=batch.c.last_error,
                    delivered_at=func.coalesce(
                        cast(batch.c.delivered_at, moment), Delivery.delivered_at
                    ),
                    next_attempt_at=func.coalesce(
                        cast(batch.c.next_attempt_at, moment), Delivery.next_attempt_at
                    ),
                )
                .returning(Delivery.id)
            )
        ).all()
    )
    finals = []
    for o in outcomes:
        if o.delivery.id not in changed:
            continue
        if o.verdict is DeliveryStatus.SUCCEEDED:
            finals.append(events.succeeded_event(o.delivery, attempts=o.delivery.attempts, at=now))
        elif o.verdict is DeliveryStatus.FAILED:
            finals.append(
                events.failed_event(
                    o.delivery,
                    attempts=o.delivery.attempts,
                    reason=o.values["last_error"],
                    at=now,
                )
            )
    await events.write(session, events_topic, finals)
    return [o.verdict for o in outcomes]


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
    """Apply one attempt's outcome; a final state writes its event to the outbox."""
    (verdict,) = await record_attempts(
        session,
        [(delivery, attempt, address)],
        max_attempts=max_attempts,
        retry_base_s=retry_base_s,
        retry_cap_s=retry_cap_s,
        events_topic=events_topic,
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
