"""From an event to its deliveries: the rules that match, their recipients, the channels each
recipient can and wants to be reached on, the rendered message. Runs inside the consumer's
transaction, so the deliveries exist exactly when the event counts as handled."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import ColumnElement, any_, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent
from gov_common.security.crypto import FieldCipher
from notifier.channels.base import ChannelName
from notifier.deliveries import events
from notifier.deliveries.models import Delivery, DeliveryStatus
from notifier.deliveries.quiet import quiet_until
from notifier.deliveries.service import (
    SendNow,
    idempotency_key,
    insert_delivery,
    webhook_body,
)
from notifier.privacy import recipient_context, scrub
from notifier.recipients.models import Recipient
from notifier.recipients.schemas import ADDRESS_FIELDS
from notifier.rules import service as rules
from notifier.rules.matching import matches
from notifier.rules.models import Rule
from notifier.rules.schemas import DEFAULT_FIELDS
from notifier.templates import rendering
from notifier.templates.models import Template

log = structlog.get_logger(__name__)

# Used when a rule names no template: says what happened and to what, in Chinese.
GENERIC_VARIANTS: dict[str, Any] = {
    "default": {
        "subject": "政务提醒：{{ event.type }}",
        "body": "事件：{{ event.type }}\n对象：{{ event.subject }}\n时间：{{ event.time }}",
    }
}


async def resolve_recipients(
    session: AsyncSession, selectors: list[dict[str, Any]], data: dict[str, Any]
) -> list[Recipient]:
    """The recipients a rule's selectors name for this event, each once, in selector order."""
    conditions: list[ColumnElement[bool]] = []
    for selector in selectors:
        source = selector["source"]
        if source == "fixed":
            conditions.append(Recipient.id == uuid.UUID(selector["recipient_id"]))
            continue
        value = data.get(selector.get("field") or DEFAULT_FIELDS[source])
        if value in (None, "", []):
            continue
        if source in ("handling_unit", "indicator_departments"):
            units = [str(v) for v in value] if isinstance(value, list) else [str(value)]
            condition: ColumnElement[bool] = Recipient.org_unit_id.in_(units)
            if selector.get("role"):
                condition = condition & (literal(selector["role"]) == any_(Recipient.roles))
            conditions.append(condition)
        elif source == "supervisor":
            conditions.append(Recipient.user_id == str(value))
        elif source == "petitioner":
            # Events never carry personal data: the petitioner is a recipient registered
            # under "petitioner:<case id>" by whoever may hold their phone number.
            conditions.append(Recipient.user_id == f"petitioner:{value}")
    if not conditions:
        return []
    found = await session.scalars(
        select(Recipient).where(or_(*conditions)).order_by(Recipient.created_at, Recipient.id)
    )
    return list(found)


def withhold_from_accused(recipients: list[Recipient], data: dict[str, Any]) -> list[Recipient]:
    """A 检举控告 case is never delivered to the people of the unit it accuses
    (``accused_unit_id``): recipients of that unit, or of a unit whose code extends it (the
    official division codes nest by prefix: 610203100 → 610203100001). The notifier holds no
    org tree; petitions-api also never dispatches such a case into the accused subtree."""
    accused = data.get("accused_unit_id")
    if not accused:
        return recipients
    return [r for r in recipients if r.org_unit_id is None or not r.org_unit_id.startswith(accused)]


def channels_for(rule: Rule, recipient: Recipient) -> list[ChannelName]:
    """The rule's channels this recipient has an address for and has not opted out of."""
    chosen = []
    for name in rule.channels:
        channel = ChannelName(name)
        if getattr(recipient, ADDRESS_FIELDS[channel]) is None:
            continue
        if recipient.channels and channel.value not in recipient.channels:
            continue
        chosen.append(channel)
    return chosen


def message_body(
    channel: ChannelName, event: CloudEvent, rendered: rendering.Rendered
) -> dict[str, Any]:
    if channel is ChannelName.WEBHOOK:
        # The event itself, with the rendered message as CloudEvents extension attributes.
        body = webhook_body(event)
        body["notificationtext"] = rendered.body
        if rendered.subject:
            body["notificationtitle"] = rendered.subject
        return body
    if channel is ChannelName.EMAIL:
        return {"subject": rendered.subject, "text": rendered.body}
    if channel is ChannelName.SMS:
        return {"text": rendered.body}
    return {"title": rendered.subject, "text": rendered.body}


async def plan_rule_deliveries(
    session: AsyncSession,
    event: CloudEvent,
    payload: BaseModel,
    *,
    events_topic: str,
    cipher: FieldCipher,
    send_now: SendNow | None = None,
) -> int:
    """Record the deliveries every enabled matching rule makes of ``event``; how many are new.
    ``send_now``: claim those due now for a send right after the commit."""
    data = payload.model_dump(mode="json")
    now = datetime.now(UTC)
    created = 0
    for rule in await rules.rules_for(session, event.type):
        if not matches(rule.filters, event, data):
            continue
        variants = GENERIC_VARIANTS
        if rule.template_id is not None:
            template = await session.get(Template, rule.template_id)
            if template is not None:
                variants = template.variants
        urgent = rule.urgent or data.get("urgent") is True
        for recipient in withhold_from_accused(
            await resolve_recipients(session, rule.recipients, data), data
        ):
            context = rendering.context_for(
                event,
                payload,
                {
                    "name": recipient.name,
                    "org_unit_id": recipient.org_unit_id,
                    "kind": recipient.kind.value,
                },
            )
            for channel in channels_for(rule, recipient):
                created += await _plan_one(
                    session,
                    event,
                    rule,
                    recipient,
                    channel,
                    variants,
                    context,
                    urgent,
                    now,
                    events_topic,
                    cipher,
                    send_now,
                )
    return created


async def _plan_one(
    session: AsyncSession,
    event: CloudEvent,
    rule: Rule,
    recipient: Recipient,
    channel: ChannelName,
    variants: dict[str, Any],
    context: dict[str, Any],
    urgent: bool,
    now: datetime,
    events_topic: str,
    cipher: FieldCipher,
    send_now: SendNow | None,
) -> int:
    field = ADDRESS_FIELDS[channel]
    # Decrypted only to be sealed again, bound to the delivery: the address it was sent to.
    address = cipher.decrypt(
        getattr(recipient, field), context=recipient_context(recipient.id, field)
    )
    values: dict[str, Any] = {
        "idempotency_key": idempotency_key(event.id, str(rule.id), str(recipient.id), channel),
        "event_id": event.id,
        "event_type": event.type,
        "subject": event.subject,
        "rule": rule.name,
        "rule_id": rule.id,
        "recipient_id": recipient.id,
        "channel": channel.value,
        "urgent": urgent,
        "status": DeliveryStatus.PENDING,
    }
    failure = None
    try:
        values["body"] = message_body(channel, event, rendering.render(variants, channel, context))
    except rendering.TemplateRenderError as exc:
        # Never silent: the delivery exists, failed, with the reason a person can act on.
        failure = str(exc)
        values |= {"body": {}, "status": DeliveryStatus.FAILED, "last_error": failure}
    if not urgent and failure is None:
        until = quiet_until(now, recipient.quiet_start, recipient.quiet_end)
        if until is not None:
            values["next_attempt_at"] = until
    delivery_id = await insert_delivery(
        session, cipher=cipher, address=address, send_now=send_now, **values
    )
    if delivery_id is None:
        return 0
    if failure is not None:
        delivery = await session.get(Delivery, delivery_id)
        assert delivery is not None
        await events.delivery_failed(
            session, delivery, topic=events_topic, attempts=1, reason=failure
        )
        log.warning("delivery.render_failed", delivery_id=str(delivery_id), reason=scrub(failure))
    return 1
