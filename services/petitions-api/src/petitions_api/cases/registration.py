"""Registration (登记) of a case: routing, repeat detection, its first clock, its event, in one
statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from gov_common.clock import today_in_china
from gov_common.events.petitions import (
    CaseKind,
    DeadlineKind,
    Rating,
)
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.messaging.outbox import outbox_values
from gov_common.problems import ProblemError
from gov_common.security.principal import Principal
from petitions_api.cases import authority, clock, events, intake
from petitions_api.cases.idempotency import IdempotencyClaim
from petitions_api.cases.lifecycle import (
    Action,
    CaseStatus,
    ReviewStage,
)
from petitions_api.cases.models import (
    Case,
    case_number_seq,
)
from petitions_api.cases.personal_data import PersonalData, Protector
from petitions_api.cases.repeat_candidates import best_repeat, find_repeat
from petitions_api.cases.schemas import (
    CaseCreate,
    CaseRead,
    DeadlineRead,
)
from petitions_api.cases.scope import within_accused
from petitions_api.config import Settings
from petitions_api.deadlines import clocks
from petitions_api.deadlines.calendar.cache import cache as calendar_cache
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import ClockSpec
from petitions_api.reference import service as reference
from petitions_api.security import scope_of

KIND_PREFIX = {"hotline_ticket": "RX", "petition_case": "XF"}  # 热线 / 信访
# The clocks a reply meets: the handling clock of each kind of case (deadlines/clocks.py).
HANDLING_KINDS = [
    DeadlineKind.HANDLING,
    DeadlineKind.HOTLINE,
    DeadlineKind.REVIEW,
    DeadlineKind.RE_REVIEW,
]
REVIEW_CLOCK = {
    ReviewStage.REVIEW: DeadlineKind.REVIEW,
    ReviewStage.RE_REVIEW: DeadlineKind.RE_REVIEW,
}
# Version of the grassroots-resolution definition stamped on case.resolved events and metrics.
GRASSROOTS_DEFINITION_VERSION = "grassroots-v1"
EFFECTIVE_RATINGS = frozenset({Rating.SATISFIED, Rating.BASICALLY_SATISFIED})


def format_case_number(kind: str, received_on: date, sequence: int) -> str:
    """E.g. ``XF2026-00000042``: kind, year received, a number unique in the database."""
    return f"{KIND_PREFIX[kind]}{received_on.year}-{sequence:08d}"


@dataclass(frozen=True)
class Registration:
    """A registered case and the answer to the request that registered it."""

    case: Case
    view: CaseRead
    body: bytes  # ``view`` as JSON: serialised once, sent and (with a key) remembered


async def register_case(
    session: AsyncSession,
    data: CaseCreate,
    *,
    settings: Settings,
    actor: str | None = None,
    source_client: str | None = None,
    external_ref: str | None = None,
) -> Case:
    """Register (登记) a case: routing, repeat detection, its first clock, its event."""
    registration = await register(
        session,
        data,
        settings=settings,
        actor=actor,
        source_client=source_client,
        external_ref=external_ref,
    )
    return registration.case


async def register(
    session: AsyncSession,
    data: CaseCreate,
    *,
    settings: Settings,
    actor: str | None = None,
    source_client: str | None = None,
    external_ref: str | None = None,
    claim: IdempotencyClaim | None = None,
    caller: Principal | None = None,
) -> Registration:
    """:func:`register_case`, answering too: with the ``claim`` of an ``Idempotency-Key``
    the answer is remembered for replays, in the same statement as the case's rows. The
    answer's ``allowed_actions`` are those of ``caller`` (all the case offers without one)."""
    now = clock.now()
    received_on = data.received_on or today_in_china()
    category = (
        await reference.get_category(session, data.category_code, field="category_code")
        if data.category_code
        else None
    )
    place = (
        await reference.get_unit(session, data.place.unit_id, field="place.unit_id")
        if data.place and data.place.unit_id
        else None
    )
    town = await reference.town_of(session, place) if place is not None else None
    handling: str | None
    if data.handling_unit_id:
        handling = (
            await reference.get_unit(session, data.handling_unit_id, field="handling_unit_id")
        ).code
    else:
        handling = await reference.route(session, category, place) if category else None
    accused = (
        await reference.get_unit(session, data.accused_unit_id, field="accused_unit_id")
        if data.accused_unit_id
        else None
    )
    if accused is not None and handling is not None:
        handling_unit = await reference.get_unit(session, handling, field="handling_unit_id")
        if await within_accused(session, accused.code, handling_unit):
            if data.handling_unit_id:
                raise ProblemError(
                    422,
                    f"handling_unit_id: the case accuses {accused.code}; it is not handled by "
                    f"{handling}, which is that unit or lies below it",
                    problem_type="validation-error",
                    extra={
                        "invalid_params": [{"name": "handling_unit_id", "reason": "accused unit"}]
                    },
                )
            handling = None  # the category's routing leads to the accused: the 信访部门 chooses

    petitioner = data.petitioner
    protector = Protector.from_settings(settings)
    if claim is not None and claim.repeat_candidates is not None:
        # The claim's statement already read the petitioner's earlier cases.
        match = best_repeat(settings, data, claim.repeat_candidates)
    else:
        match = await find_repeat(
            session,
            settings,
            kind=data.kind,
            subject=data.subject,
            description=data.description,
            category_code=data.category_code,
            phone_index=protector.phone_lookup(petitioner.phone) if petitioner else (),
            id_number_index=protector.id_number_lookup(petitioner.id_number) if petitioner else (),
            now=now,
        )

    sequence = claim.case_sequence if claim is not None else None
    if sequence is None:
        sequence = await session.scalar(case_number_seq.next_value())
    assert sequence is not None
    # Every column is set here (created_at too: the request's instant, not a refresh).
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "case_number": format_case_number(data.kind.value, received_on, sequence),
        "kind": data.kind,
        "channel": data.channel,
        "subject": data.subject,
        "description": data.description,
        "received_on": received_on,
        "status": CaseStatus.REGISTERED,
        "version": 1,
        "category_code": category.code if category else None,
        "place_unit_id": place.code if place else None,
        "place_address": data.place.address if data.place else None,
        "latitude": data.place.latitude if data.place else None,
        "longitude": data.place.longitude if data.place else None,
        "town_unit_id": town.code if town else None,
        "handling_unit_id": handling,
        "accused_unit_id": accused.code if accused else None,
        "urgent": data.urgent,
        "group_size": data.group_size,
        "attachments": [a.model_dump(mode="json") for a in data.attachments],
        "source_client": source_client,
        "external_ref": external_ref,
        "first_time": match is None,
        "repeat_of": match[0] if match else None,
        "repeat_score": round(match[1], 1) if match else None,
        "repeat_confirmed": False,
        "review_stage": ReviewStage.ORIGINAL,
        "review_requested": False,
        "final": False,
        "extended": False,
        "created_at": now,
        "updated_at": now,
    }
    case = Case(**{column: None for column in _CASE_COLUMNS}, **values)
    calendar = await calendar_cache.calendar(session)
    first = await _first_clock(session, settings, case, category, calendar, now=now)
    sealed = None
    if petitioner is not None:
        personal = PersonalData(
            petitioner.name, petitioner.phone, petitioner.id_number, petitioner.address
        )
        sealed = vars(protector.seal(case.id, personal))
    details = {
        "repeat_of": str(case.repeat_of) if case.repeat_of else None,
        "repeat_score": case.repeat_score,
    }
    view = CaseRead.model_validate(case).model_copy(
        update={
            "allowed_actions": await _allowed(session, case, caller),
            "deadlines": [
                DeadlineRead(
                    kind=first.spec.kind,
                    started_at=first.spec.started_at,
                    due_on=first.due.due_on,
                    due_at=first.due.due_at,
                    met_at=None,
                    cancelled_at=None,
                    provisional=first.due.provisional,
                )
            ],
        }
    )
    body = view.model_dump_json().encode()
    event = events.case_created(case, source=settings.event_source)
    await intake.write_new_case(
        session,
        case={c: _column_value(values[c]) for c in intake.CASE_COLUMNS},
        petitioner=sealed,
        clock=first,
        entry={
            "action": "register",
            "to_status": case.status.value,
            "actor": actor,
            "details": {k: v for k, v in details.items() if v is not None},
            "occurred_at": now,
        },
        outbox=outbox_values(
            topic=settings.topic(PETITIONS_CASE_EVENTS), key=str(case.id), event=event
        ),
        remember=(
            intake.Remembered(scope=claim.scope, key=claim.key, status=201, body=body)
            if claim is not None
            else None
        ),
    )
    # The rows exist now: the session holds the case as if it had loaded it.
    make_transient_to_detached(case)
    session.add(case)
    return Registration(case=case, view=view, body=body)


async def _allowed(session: AsyncSession, case: Case, caller: Principal | None) -> list[Action]:
    if caller is None:
        return authority.allowed_for(case, roles=None, acts_here=True)
    scope = scope_of(caller)
    acts_here = (await authority.acts_on(session, [case], scope))[0] if scope else True
    return authority.allowed_for(case, roles=caller.roles, acts_here=acts_here, scope=scope)


_CASE_COLUMNS = frozenset(Case.__mapper__.columns.keys()) - frozenset(intake.CASE_COLUMNS)


def _column_value(value: Any) -> Any:
    # Enum columns hold the members' values (gov_common.db.str_enum).
    return value.value if isinstance(value, StrEnum) else value


async def _first_clock(
    session: AsyncSession,
    settings: Settings,
    case: Case,
    category: Any,
    calendar: WorkingCalendar,
    *,
    now: datetime,
) -> intake.FirstClock:
    """The clock a new case starts with (it has no earlier clock to supersede): a petition's
    acceptance clock from the day it was received, a ticket's tier from now."""
    if case.kind is CaseKind.PETITION_CASE:
        rule = clocks.rule_for(settings, DeadlineKind.FORWARDING, case.kind)
        spec = clocks.spec_for(rule, started_at=now, starts_on=case.received_on)
    else:
        spec = await hotline_spec(session, settings, case, category, now=now)
    return intake.FirstClock(spec, clocks.compute(spec, calendar))


async def hotline_spec(
    session: AsyncSession, settings: Settings, case: Case, category: Any, *, now: datetime
) -> ClockSpec:
    rule = clocks.rule_for(settings, DeadlineKind.HOTLINE, CaseKind.HOTLINE_TICKET)
    tier = await reference.tier_for(session, category, case.urgent)
    return clocks.spec_for(
        rule, started_at=now, tier_hours=tier.hours, tier_working_days=tier.working_days
    )
