"""The events a case publishes (contracts in gov_common.events.petitions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import CloudEvent, new_event
from gov_common.events import petitions as contracts
from gov_common.events.registry import PETITIONS_CASE_EVENTS, event_type
from gov_common.messaging.outbox import add_to_outbox
from petitions_api.cases.models import Case
from petitions_api.config import Settings
from petitions_api.db import OutboxMessage

CASE_CREATED = contracts.CASE_CREATED_V1


def case_created(case: Case, *, source: str) -> CloudEvent:
    return new_event(
        source=source,
        type=CASE_CREATED,
        subject=str(case.id),
        data=contracts.CaseCreatedV1(
            case_id=case.id,
            case_number=case.case_number,
            kind=case.kind,
            channel=case.channel,
            subject=case.subject,
            received_on=case.received_on,
            created_at=case.created_at,
            category_code=case.category_code,
            place_unit_id=case.place_unit_id,
            handling_unit_id=case.handling_unit_id,
            first_time=case.first_time,
            urgent=case.urgent,
            repeat_of=case.repeat_of,
            accused_unit_id=case.accused_unit_id,
        ),
    )


def lifecycle_event(
    case: Case,
    type_name: str,
    *,
    source: str,
    occurred_at: datetime,
    actor: str | None,
    **fields: Any,
) -> CloudEvent:
    """A lifecycle event of ``case``: the base fields from the case, the rest from ``fields``."""
    payload_model = event_type(type_name).payload
    data: BaseModel = payload_model(
        case_id=case.id,
        case_number=case.case_number,
        kind=case.kind,
        occurred_at=occurred_at,
        actor=actor,
        handling_unit_id=case.handling_unit_id,
        category_code=case.category_code,
        first_time=case.first_time,
        accused_unit_id=case.accused_unit_id,
        **fields,
    )
    return new_event(source=source, type=type_name, subject=str(case.id), data=data)


async def publish(session: AsyncSession, settings: Settings, case: Case, event: CloudEvent) -> None:
    """Write the event to the outbox in the caller's transaction (key = case id)."""
    await add_to_outbox(
        session,
        OutboxMessage,
        topic=settings.topic(PETITIONS_CASE_EVENTS),
        key=str(case.id),
        event=event,
    )
