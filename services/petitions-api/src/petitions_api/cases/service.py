"""Rules for cases. No HTTP here; the caller's unit of work commits."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.clock import today_in_china
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.messaging.outbox import add_to_outbox
from gov_common.problems import NotFoundError
from petitions_api.cases import events
from petitions_api.cases.models import Case, case_number_seq
from petitions_api.cases.schemas import CaseCreate
from petitions_api.config import Settings
from petitions_api.db import OutboxMessage

KIND_PREFIX = {"hotline_ticket": "RX", "petition_case": "XF"}  # 热线 / 信访


def format_case_number(kind: str, received_on: date, sequence: int) -> str:
    """E.g. ``XF2026-00000042``: kind, year received, a number unique in the database."""
    return f"{KIND_PREFIX[kind]}{received_on.year}-{sequence:08d}"


async def register_case(session: AsyncSession, data: CaseCreate, *, settings: Settings) -> Case:
    """Register (登记) a case and record its ``case.created`` event in the same transaction."""
    received_on = data.received_on or today_in_china()
    sequence = await session.scalar(case_number_seq.next_value())
    assert sequence is not None
    case = Case(
        id=uuid.uuid4(),
        case_number=format_case_number(data.kind.value, received_on, sequence),
        kind=data.kind,
        channel=data.channel,
        subject=data.subject,
        description=data.description,
        received_on=received_on,
    )
    session.add(case)
    await session.flush()
    await session.refresh(case)  # created_at comes from the database clock
    await add_to_outbox(
        session,
        OutboxMessage,
        topic=settings.topic(PETITIONS_CASE_EVENTS),
        key=str(case.id),
        event=events.case_created(case, source=settings.event_source),
    )
    return case


async def get_case(session: AsyncSession, case_id: uuid.UUID) -> Case:
    case = await session.scalar(select(Case).where(Case.id == case_id))
    if case is None:
        raise NotFoundError("case", case_id)
    return case
