"""Rules about rules: validated against the event registry, the templates and the recipients
before anything is written. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import EventType
from gov_common.preconditions import check_if_match
from gov_common.problems import NotFoundError, ProblemError
from notifier.event_types import known_event_type
from notifier.recipients.models import Recipient
from notifier.rules.matching import ENVELOPE_FILTER_FIELDS
from notifier.rules.models import Rule
from notifier.rules.schemas import FixedRecipient, RuleIn, selector_field
from notifier.templates.models import Template


def _invalid(params: list[dict[str, str]]) -> ProblemError:
    return ProblemError(
        422,
        "rule refused: " + "; ".join(f"{p['name']}: {p['reason']}" for p in params),
        problem_type="invalid-rule",
        title="Rule refused",
        extra={"invalid_params": params},
    )


async def check_rule(session: AsyncSession, data: RuleIn) -> None:
    event_type: EventType = known_event_type(data.event_type)
    fields = set(event_type.payload.model_fields)
    params: list[dict[str, str]] = []
    for i, condition in enumerate(data.filters):
        if condition.field not in fields and condition.field not in ENVELOPE_FILTER_FIELDS:
            params.append(
                {
                    "name": f"filters.{i}.field",
                    "reason": f"{condition.field!r} is not a field of {data.event_type}; "
                    f"use one of {', '.join(sorted(fields | ENVELOPE_FILTER_FIELDS))}",
                }
            )
    fixed_ids = []
    for i, selector in enumerate(data.recipients):
        if isinstance(selector, FixedRecipient):
            fixed_ids.append((i, selector.recipient_id))
            continue
        field = selector_field(selector)
        if field not in fields:
            params.append(
                {
                    "name": f"recipients.{i}",
                    "reason": f"{selector.source} recipients need the field {field!r}, "
                    f"which {data.event_type} does not have",
                }
            )
    if fixed_ids:
        existing = set(
            await session.scalars(
                select(Recipient.id).where(Recipient.id.in_([rid for _, rid in fixed_ids]))
            )
        )
        params += [
            {"name": f"recipients.{i}.recipient_id", "reason": f"recipient {rid} does not exist"}
            for i, rid in fixed_ids
            if rid not in existing
        ]
    if data.template_id is not None:
        template = await session.get(Template, data.template_id)
        if template is None:
            params.append(
                {"name": "template_id", "reason": f"template {data.template_id} does not exist"}
            )
        elif template.event_type != data.event_type:
            params.append(
                {
                    "name": "template_id",
                    "reason": f"template {template.name!r} is for {template.event_type}, "
                    f"not {data.event_type}",
                }
            )
    if params:
        raise _invalid(params)


async def _refuse_taken_name(
    session: AsyncSession, name: str, *, but: uuid.UUID | None = None
) -> None:
    query = select(Rule.id).where(Rule.name == name)
    if but is not None:
        query = query.where(Rule.id != but)
    if (await session.scalar(query)) is not None:
        raise ProblemError(
            409, f"a rule named {name!r} exists; choose another name", problem_type="conflict"
        )


async def create_rule(session: AsyncSession, data: RuleIn) -> Rule:
    await check_rule(session, data)
    await _refuse_taken_name(session, data.name)
    rule = Rule(id=uuid.uuid4(), version=1, **data.columns())
    session.add(rule)
    await session.flush()
    await session.refresh(rule)
    return rule


async def get_rule(session: AsyncSession, rule_id: uuid.UUID) -> Rule:
    rule = await session.get(Rule, rule_id)
    if rule is None:
        raise NotFoundError("rule", rule_id)
    return rule


async def replace_rule(
    session: AsyncSession, rule_id: uuid.UUID, data: RuleIn, *, if_match: str | None
) -> Rule:
    rule = await get_rule(session, rule_id)
    check_if_match(if_match, rule.version, "rule", required=True)
    await check_rule(session, data)
    await _refuse_taken_name(session, data.name, but=rule_id)
    for name, value in data.columns().items():
        setattr(rule, name, value)
    rule.version += 1
    rule.updated_at = datetime.now(UTC)
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, rule_id: uuid.UUID, *, if_match: str | None) -> None:
    rule = await get_rule(session, rule_id)
    check_if_match(if_match, rule.version, "rule", required=True)
    await session.delete(rule)
    await session.flush()


async def rules_naming_recipient(session: AsyncSession, recipient_id: uuid.UUID) -> list[str]:
    selector = [{"source": "fixed", "recipient_id": str(recipient_id)}]
    return list(await session.scalars(select(Rule.name).where(Rule.recipients.contains(selector))))


async def rules_using_template(session: AsyncSession, template_id: uuid.UUID) -> list[str]:
    return list(await session.scalars(select(Rule.name).where(Rule.template_id == template_id)))


async def rules_for(session: AsyncSession, event_type: str) -> list[Rule]:
    query = (
        select(Rule)
        .where(Rule.event_type == event_type, Rule.enabled.is_(True))
        .order_by(Rule.created_at, Rule.id)
    )
    return list(await session.scalars(query))
