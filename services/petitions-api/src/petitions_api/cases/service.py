"""Rules for cases: intake, first-time/repeat, the lifecycle's actions, queries.

No HTTP here; the caller's unit of work commits. Every change writes its timeline entry and its
events (outbox) in the same transaction, so nothing is half-written.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from gov_common.clock import today_in_china
from gov_common.events import petitions as contracts
from gov_common.events.petitions import (
    CaseKind,
    DeadlineKind,
    Rating,
    ResolutionLevel,
)
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.messaging.outbox import outbox_values
from gov_common.pagination import decode_cursor, encode_cursor
from gov_common.problems import NotFoundError, ProblemError
from gov_common.security.audit import record_personal_data_access
from gov_common.security.principal import Principal
from petitions_api.cases import events, intake, repeats
from petitions_api.cases.lifecycle import (
    Action,
    ActionNotAllowed,
    CaseFacts,
    CaseStatus,
    GuardFailed,
    ReviewStage,
    allowed_actions,
    check_guards,
    next_review_stage,
    transition,
)
from petitions_api.cases.models import (
    Case,
    IdempotencyKey,
    Petitioner,
    TimelineEntry,
    case_number_seq,
)
from petitions_api.cases.personal_data import PersonalData, Protector, masked
from petitions_api.cases.schemas import (
    ActionBody,
    CaseCreate,
    CaseRead,
    DeadlineRead,
    DeclineBody,
    DispatchBody,
    EscalateBody,
    ExtendBody,
    PetitionerRead,
    RateBody,
    ReopenBody,
    ReplyBody,
    RequestReviewBody,
    ReturnBody,
    SuperviseBody,
)
from petitions_api.config import Settings
from petitions_api.db import PersonalDataAccess
from petitions_api.deadlines import clocks
from petitions_api.deadlines import service as deadlines
from petitions_api.deadlines.calendar.cache import cache as calendar_cache
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import REVIEW_REQUEST_WINDOW, ClockRule, ClockSpec
from petitions_api.deadlines.days import china_date
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.metrics import rollup
from petitions_api.reference import service as reference
from petitions_api.reference.models import OrgUnit, UnitLevel

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


def _now() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- intake


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
) -> Registration:
    """:func:`register_case`, answering too: with the ``claim`` of an ``Idempotency-Key``
    the answer is remembered for replays, in the same statement as the case's rows."""
    now = _now()
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

    petitioner = data.petitioner
    protector = Protector.from_settings(settings)
    if claim is not None and claim.repeat_candidates is not None:
        # The claim's statement already read the petitioner's earlier cases.
        match = _best_repeat(settings, data, claim.repeat_candidates)
    else:
        match = await _find_repeat(
            session,
            settings,
            subject=data.subject,
            description=data.description,
            category_code=data.category_code,
            phone_index=protector.phone_index(petitioner.phone) if petitioner else None,
            id_number_index=protector.id_number_index(petitioner.id_number) if petitioner else None,
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
    clock = await _first_clock(session, settings, case, category, calendar, now=now)
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
            "allowed_actions": allowed_actions(case.status),
            "deadlines": [
                DeadlineRead(
                    kind=clock.spec.kind,
                    started_at=clock.spec.started_at,
                    due_on=clock.due.due_on,
                    due_at=clock.due.due_at,
                    met_at=None,
                    cancelled_at=None,
                    provisional=clock.due.provisional,
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
        clock=clock,
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
        rule = clocks.rule_for(settings, DeadlineKind.ACCEPTANCE, case.kind)
        spec = clocks.spec_for(rule, started_at=now, starts_on=case.received_on)
    else:
        spec = await _hotline_spec(session, settings, case, category, now=now)
    return intake.FirstClock(spec, clocks.compute(spec, calendar))


async def _hotline_spec(
    session: AsyncSession, settings: Settings, case: Case, category: Any, *, now: datetime
) -> ClockSpec:
    rule = clocks.rule_for(settings, DeadlineKind.HOTLINE, CaseKind.HOTLINE_TICKET)
    tier = await reference.tier_for(session, category, case.urgent)
    return clocks.spec_for(
        rule, started_at=now, tier_hours=tier.hours, tier_working_days=tier.working_days
    )


async def _find_repeat(
    session: AsyncSession,
    settings: Settings,
    *,
    subject: str,
    description: str,
    category_code: str | None,
    phone_index: str | None,
    id_number_index: str | None,
    now: datetime,
    exclude: uuid.UUID | None = None,
) -> tuple[uuid.UUID, float] | None:
    # The same petitioner: equal blind indexes of the normalised phone or ID number.
    if not phone_index and not id_number_index:
        return None
    since = now - timedelta(days=settings.repeat_lookback_days)
    if exclude is None:
        prepared = _repeat_candidates(bool(phone_index), bool(id_number_index))
        params: dict[str, Any] = {"since": since}
        if phone_index:
            params["phone_index"] = phone_index
        if id_number_index:
            params["id_number_index"] = id_number_index
        rows = (await session.execute(prepared, params)).all()
    else:
        identity = [
            c
            for c in (
                Petitioner.phone_index == phone_index if phone_index else None,
                Petitioner.id_number_index == id_number_index if id_number_index else None,
            )
            if c is not None
        ]
        statement = (
            select(Case.id, Case.subject, Case.description, Case.category_code)
            .join(Petitioner, Petitioner.case_id == Case.id)
            .where(or_(*identity))
            .where(Case.created_at >= since)
            .where(Case.id != exclude)
            .order_by(Case.created_at.desc())
            .limit(50)
        )
        rows = (await session.execute(statement)).all()
    candidates = [repeats.Candidate(r.id, r.subject, r.description, r.category_code) for r in rows]
    return repeats.best_match(
        subject=subject,
        description=description,
        category_code=category_code,
        candidates=candidates,
        threshold=settings.repeat_similarity,
    )


def _best_repeat(
    settings: Settings, data: CaseCreate, candidates: list[repeats.Candidate]
) -> tuple[uuid.UUID, float] | None:
    return repeats.best_match(
        subject=data.subject,
        description=data.description,
        category_code=data.category_code,
        candidates=candidates,
        threshold=settings.repeat_similarity,
    )


@dataclass(frozen=True)
class RepeatLookup:
    """Who a new case's petitioner is (blind indexes) and since when earlier cases count:
    what the repeat check reads, so that the idempotency claim can read it too."""

    phone_index: str | None
    id_number_index: str | None
    since: datetime


def repeat_lookup(data: CaseCreate, settings: Settings) -> RepeatLookup | None:
    """None when the case names no phone or ID number (nothing to look up)."""
    petitioner = data.petitioner
    if petitioner is None:
        return None
    protector = Protector.from_settings(settings)
    phone_index = protector.phone_index(petitioner.phone)
    id_number_index = protector.id_number_index(petitioner.id_number)
    if not phone_index and not id_number_index:
        return None
    return RepeatLookup(
        phone_index, id_number_index, _now() - timedelta(days=settings.repeat_lookback_days)
    )


@functools.cache
def _repeat_candidates(by_phone: bool, by_id_number: bool) -> Select[Any]:
    """The same petitioner's cases since ``:since``, newest first: built once per identity
    combination, Core columns (no ORM entities to load)."""
    case_table, petitioner_table = cast(Table, Case.__table__), cast(Table, Petitioner.__table__)
    cases, petitioners = case_table.c, petitioner_table.c
    identity = []
    if by_phone:
        identity.append(petitioners.phone_index == bindparam("phone_index"))
    if by_id_number:
        identity.append(petitioners.id_number_index == bindparam("id_number_index"))
    return (
        select(cases.id, cases.subject, cases.description, cases.category_code)
        .join_from(case_table, petitioner_table, petitioners.case_id == cases.id)
        .where(or_(*identity))
        .where(cases.created_at >= bindparam("since"))
        .order_by(cases.created_at.desc())
        .limit(50)
    )


def idempotency_scope(subject: str) -> str:
    """Idempotency keys are per caller; a long subject is hashed to fit the column."""
    scope = f"cases:{subject}"
    if len(scope) <= 100:
        return scope
    return "cases:sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def request_hash(data: CaseCreate) -> str:
    canonical = orjson.dumps(data.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class IdempotencyKeyReused(ProblemError):  # noqa: N818
    def __init__(self, key: str) -> None:
        super().__init__(
            422,
            f"Idempotency-Key {key!r} was already used with a different request body; "
            "use a new key for a new case, or resend the original body",
            problem_type="idempotency-key-reused",
        )


# Built once (SQLAlchemy then reuses its compiled form without re-deriving a cache key);
# Core, not ORM: nothing here needs the identity map.
_CLAIM = (
    insert(cast(Table, IdempotencyKey.__table__))
    .values(scope=bindparam("scope"), key=bindparam("key"), request_hash=bindparam("request_hash"))
    .on_conflict_do_nothing(index_elements=["scope", "key"])
    .returning(case_number_seq.next_value().label("case_sequence"))
)


@functools.cache
def _claim_and_candidates(by_phone: bool, by_id_number: bool) -> Select[Any]:
    """:data:`_CLAIM` and the petitioner's earlier cases (:func:`_repeat_candidates`) in one
    round trip: a row per candidate (one with NULLs when there is none), newest first; no
    row when the key was claimed before (the candidates are then not read)."""
    claim = _CLAIM.cte("claim")
    case_table = cast(Table, Case.__table__)
    candidate = (
        _repeat_candidates(by_phone, by_id_number)
        .add_columns(case_table.c.created_at)
        .lateral("candidate")
    )
    return (
        select(
            claim.c.case_sequence,
            candidate.c.id,
            candidate.c.subject,
            candidate.c.description,
            candidate.c.category_code,
        )
        .select_from(claim)
        .outerjoin(candidate, true())
        .order_by(candidate.c.created_at.desc())
    )


@dataclass(frozen=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` this request holds, the case number drawn with it and, when
    the claim looked them up, the petitioner's earlier cases (repeat candidates)."""

    scope: str
    key: str
    case_sequence: int | None
    repeat_candidates: list[repeats.Candidate] | None = None


async def claim_idempotency_key(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    digest: str,
    lookup: RepeatLookup | None = None,
) -> IdempotencyClaim | IdempotencyKey:
    """Claim ``key`` for this request, or return the earlier request's record.

    The insert waits on a concurrent transaction holding the same key, so two identical
    requests racing each other still create one case. The claim also draws the new case's
    number from ``case_number_seq`` and, given a ``lookup``, reads the repeat candidates
    (one round trip for all; a replay draws and reads nothing).
    """
    params: dict[str, Any] = {"scope": scope, "key": key, "request_hash": digest}
    if lookup is None:
        claimed = await session.scalar(_CLAIM, params)
        if claimed is not None:
            return IdempotencyClaim(scope=scope, key=key, case_sequence=claimed)
    else:
        if lookup.phone_index:
            params["phone_index"] = lookup.phone_index
        if lookup.id_number_index:
            params["id_number_index"] = lookup.id_number_index
        params["since"] = lookup.since
        statement = _claim_and_candidates(bool(lookup.phone_index), bool(lookup.id_number_index))
        rows = (await session.execute(statement, params)).all()
        if rows:
            return IdempotencyClaim(
                scope=scope,
                key=key,
                case_sequence=rows[0].case_sequence,
                repeat_candidates=[
                    repeats.Candidate(r.id, r.subject, r.description, r.category_code)
                    for r in rows
                    if r.id is not None
                ],
            )
    earlier = await session.get(IdempotencyKey, (scope, key))
    assert earlier is not None
    if earlier.request_hash != digest:
        raise IdempotencyKeyReused(key)
    return earlier


# ------------------------------------------------------------------------------ reading


async def scope_condition(session: AsyncSession, scope: str | None) -> ColumnElement[bool] | None:
    """Cases in the caller's org-unit subtree: handled there or located there (属地).

    None: no restriction (district-level callers). An org unit this service does not know
    sees nothing.
    """
    if scope is None:
        return None
    path = await session.scalar(select(OrgUnit.path).where(OrgUnit.code == scope))
    if path is None:
        return false()
    units = select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True))
    return or_(Case.handling_unit_id.in_(units), Case.place_unit_id.in_(units))


async def get_case(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    for_update: bool = False,
    scope: str | None = None,
) -> Case:
    """The case, or 404 — also when it lies outside the caller's scope, so that its
    existence is not revealed."""
    statement = select(Case).where(Case.id == case_id)
    in_scope = await scope_condition(session, scope)
    if in_scope is not None:
        statement = statement.where(in_scope)
    if for_update:
        statement = statement.with_for_update()
    case = await session.scalar(statement)
    if case is None:
        raise NotFoundError("case", case_id)
    return case


async def case_view(session: AsyncSession, case: Case) -> CaseRead:
    view = CaseRead.model_validate(case)
    clocks = await deadlines.all_deadlines(session, case.id)
    return view.model_copy(
        update={
            "allowed_actions": allowed_actions(case.status),
            "deadlines": [DeadlineRead.model_validate(d) for d in clocks],
        }
    )


def open_petitioner(petitioner: Petitioner, settings: Settings) -> PersonalData:
    return Protector.from_settings(settings).open(
        petitioner.case_id,
        name_ciphertext=petitioner.name_ciphertext,
        phone_ciphertext=petitioner.phone_ciphertext,
        id_number_ciphertext=petitioner.id_number_ciphertext,
        address_ciphertext=petitioner.address_ciphertext,
    )


async def read_petitioner(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    principal: Principal,
    unmasked: bool,
    settings: Settings,
    scope: str | None = None,
) -> PetitionerRead:
    """The petitioner of a case in scope: in full for ``unmasked`` callers — and then the
    read is written to the access log in this transaction — else masked."""
    await get_case(session, case_id, scope=scope)
    petitioner = await session.get(Petitioner, case_id)
    if petitioner is None:
        raise NotFoundError("petitioner of case", case_id)
    data = open_petitioner(petitioner, settings)
    if unmasked:
        await record_personal_data_access(
            session,
            PersonalDataAccess,
            principal,
            resource_type="petitioner",
            resource_id=str(case_id),
            fields=data.present_fields(),
        )
    else:
        units = (await session.execute(select(OrgUnit.name, OrgUnit.short_name))).all()
        data = masked(data, [n for unit in units for n in unit if n])
    return PetitionerRead(**vars(data), masked=not unmasked)


async def timeline(
    session: AsyncSession, case_id: uuid.UUID, *, scope: str | None = None
) -> list[TimelineEntry]:
    await get_case(session, case_id, scope=scope)
    rows = await session.scalars(
        select(TimelineEntry).where(TimelineEntry.case_id == case_id).order_by(TimelineEntry.id)
    )
    return list(rows.all())


def etag(case: Case) -> str:
    return f'"{case.version}"'


def check_if_match(case: Case, if_match: str | None) -> None:
    if if_match is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in wanted or etag(case) in wanted:
        return
    raise ProblemError(
        412,
        f"the case changed since you read it (now version {case.version}); "
        "read it again and retry with its ETag in If-Match",
        problem_type="precondition-failed",
    )


# ----------------------------------------------------------------------- the lifecycle


class ActionRefused(ProblemError):  # noqa: N818
    def __init__(self, detail: str, status: CaseStatus, *, problem_type: str) -> None:
        super().__init__(
            409,
            detail,
            problem_type=problem_type,
            extra={
                "status_of_case": status.value,
                "allowed_actions": [a.value for a in allowed_actions(status)],
            },
        )


def _record(
    session: AsyncSession,
    case: Case,
    *,
    action: str,
    from_status: CaseStatus | None,
    actor: str | None,
    at: datetime,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        TimelineEntry(
            case_id=case.id,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=case.status.value,
            actor=actor,
            reason=reason,
            details={k: v for k, v in (details or {}).items() if v is not None},
            occurred_at=at,
        )
    )


async def _facts(
    session: AsyncSession,
    case: Case,
    today: date,
    body: ActionBody,
    calendar: WorkingCalendar,
) -> CaseFacts:
    return_clock = await deadlines.open_deadlines(session, case.id, [DeadlineKind.RETURN])
    final_matter = False
    if case.repeat_of is not None:
        earlier = await session.get(Case, case.repeat_of)
        final_matter = bool(earlier and earlier.final)
    requested_on = window_ends_on = received_reply_on = None
    if isinstance(body, RequestReviewBody) and case.replied_on is not None:
        requested_on = body.requested_on or today
        received_reply_on = body.reply_received_on or case.replied_on
        _check_review_dates(case.replied_on, received_reply_on, requested_on, today)
        window = REVIEW_REQUEST_WINDOW
        window_ends_on = calendar.reckoning().statutory_due_on(received_reply_on, window.length)
    return CaseFacts(
        kind=case.kind,
        status=case.status,
        today=today,
        extended=case.extended,
        rating=case.rating,
        replied_on=case.replied_on,
        review_stage=case.review_stage,
        review_requested=case.review_requested,
        final_matter=final_matter,
        return_due_on=return_clock[0].due_on if return_clock else None,
        reply_received_on=received_reply_on,
        requested_on=requested_on,
        review_window_ends_on=window_ends_on,
    )


def _check_review_dates(
    replied_on: date, received_on: date, requested_on: date, today: date
) -> None:
    """The days a 复查/复核 request names must be possible: received after the reply was
    given, requested after it was received, neither in the future."""
    problems = []
    if received_on < replied_on:
        problems.append(
            ("reply_received_on", f"{received_on} is before the reply was given ({replied_on})")
        )
    if received_on > today:
        problems.append(("reply_received_on", f"{received_on} is in the future"))
    if requested_on > today:
        problems.append(("requested_on", f"{requested_on} is in the future"))
    if requested_on < received_on:
        problems.append(
            ("requested_on", f"{requested_on} is before the reply was received ({received_on})")
        )
    if problems:
        raise ProblemError(
            422,
            "; ".join(f"{name}: {reason}" for name, reason in problems),
            problem_type="validation-error",
            extra={"invalid_params": [{"name": n, "reason": r} for n, r in problems]},
        )


async def perform(
    session: AsyncSession,
    case_id: uuid.UUID,
    action: Action,
    body: ActionBody,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    settings: Settings,
) -> tuple[Case, Case | None]:
    """Apply ``action`` to the case; returns the case and, for a review request, the new case."""
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    counted = rollup.share_of(case)
    before = case.status
    try:
        after = transition(before, action)
    except ActionNotAllowed as exc:
        raise ActionRefused(str(exc), before, problem_type="action-not-allowed") from None
    now = _now()
    today = china_date(now)
    calendar = await calendar_cache.calendar(session)
    try:
        check_guards(action, await _facts(session, case, today, body, calendar))
    except GuardFailed as exc:
        raise ActionRefused(str(exc), before, problem_type="action-refused") from None

    handler = _HANDLERS[action]
    context = _Context(session, settings, case, actor, now, today, calendar)
    outcome = await handler(context, body)
    case.status = after
    case.version += 1
    _record(
        session,
        case,
        action=action.value,
        from_status=before,
        actor=actor,
        at=now,
        reason=getattr(body, "reason", None) or body.note,
        details=outcome.details,
    )
    for type_name, fields in outcome.events:
        await events.publish(
            session,
            settings,
            case,
            events.lifecycle_event(
                case,
                type_name,
                source=settings.event_source,
                occurred_at=now,
                actor=actor,
                **fields,
            ),
        )
    # Last, so that the rollup row stays locked for as short a time as possible.
    await rollup.record_change(session, counted, rollup.share_of(case))
    await session.flush()
    await session.refresh(case)
    return case, outcome.created


class _Context:
    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        case: Case,
        actor: str,
        now: datetime,
        today: date,
        calendar: WorkingCalendar,
    ) -> None:
        self.session, self.settings, self.case = session, settings, case
        self.actor, self.now, self.today = actor, now, today
        self.calendar = calendar

    def rule(self, kind: DeadlineKind) -> ClockRule:
        return clocks.rule_for(self.settings, kind, self.case.kind)

    async def open_clock(self, spec: ClockSpec) -> CaseDeadline:
        return await deadlines.open_deadline(
            self.session, self.case.id, spec, self.calendar, at=self.now
        )


class _Outcome:
    def __init__(
        self,
        events: list[tuple[str, dict[str, Any]]] | None = None,
        details: dict[str, Any] | None = None,
        created: Case | None = None,
    ) -> None:
        self.events = events or []
        self.details = details or {}
        self.created = created


async def _handling_clock(ctx: _Context) -> CaseDeadline | None:
    open_ = await deadlines.open_deadlines(ctx.session, ctx.case.id, HANDLING_KINDS)
    return open_[-1] if open_ else None


def _due_day(clock: CaseDeadline) -> date:
    return clock.due_on or china_date(clock.due_at)


async def _accept(ctx: _Context, body: ActionBody) -> _Outcome:
    case = ctx.case
    case.accepted_on = ctx.today
    await deadlines.meet_deadlines(ctx.session, case.id, [DeadlineKind.ACCEPTANCE], at=ctx.now)
    # Petitions get their 60-day clock now; reviews already run their 30-day one, tickets
    # their tier's clock since registration.
    if case.kind is CaseKind.PETITION_CASE and case.review_stage is ReviewStage.ORIGINAL:
        rule = ctx.rule(DeadlineKind.HANDLING)
        await ctx.open_clock(clocks.spec_for(rule, started_at=ctx.now, starts_on=ctx.today))
    clock = await _handling_clock(ctx)
    return _Outcome(
        [
            (
                contracts.CASE_ACCEPTED_V1,
                {
                    "handling_due_on": _due_day(clock) if clock else ctx.today,
                    "handling_due_provisional": clock.provisional if clock else False,
                },
            )
        ]
    )


async def _decline(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, DeclineBody)
    await deadlines.meet_deadlines(ctx.session, ctx.case.id, [DeadlineKind.ACCEPTANCE], at=ctx.now)
    await deadlines.cancel_deadlines(ctx.session, ctx.case.id, None, at=ctx.now)
    ctx.case.closed_on = ctx.today
    return _Outcome([(contracts.CASE_DECLINED_V1, {"reason": body.reason})])


async def _dispatch(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, DispatchBody)
    case = ctx.case
    if body.to_unit_id:
        unit = await reference.get_unit(ctx.session, body.to_unit_id, field="to_unit_id")
    else:
        code = case.handling_unit_id
        if code is None and case.category_code:
            category = await reference.get_category(ctx.session, case.category_code)
            place = (
                await ctx.session.get(OrgUnit, case.place_unit_id) if case.place_unit_id else None
            )
            code = await reference.route(ctx.session, category, place)
        if code is None:
            raise ProblemError(
                422,
                "to_unit_id: the case has no category routing to follow; name the unit",
                problem_type="validation-error",
                extra={"invalid_params": [{"name": "to_unit_id", "reason": "required here"}]},
            )
        unit = await reference.get_unit(ctx.session, code, field="to_unit_id")
    case.handling_unit_id = unit.code
    rule = ctx.rule(DeadlineKind.RETURN)
    returning = await ctx.open_clock(clocks.spec_for(rule, started_at=ctx.now))
    return_due_on = _due_day(returning)
    handling = await _handling_clock(ctx)
    return _Outcome(
        [
            (
                contracts.CASE_DISPATCHED_V1,
                {
                    "to_unit_id": unit.code,
                    "return_due_on": return_due_on,
                    "return_due_provisional": returning.provisional,
                    "handling_due_on": _due_day(handling) if handling else None,
                    "handling_due_provisional": handling.provisional if handling else None,
                },
            )
        ],
        details={"to_unit_id": unit.code, "return_due_on": return_due_on.isoformat()},
    )


async def _take(ctx: _Context, body: ActionBody) -> _Outcome:
    # Taking the case ends the window in which the unit may return it.
    await deadlines.meet_deadlines(ctx.session, ctx.case.id, [DeadlineKind.RETURN], at=ctx.now)
    if ctx.case.responded_at is None:
        ctx.case.responded_at = ctx.now  # the first 签收: what the response rate counts
    return _Outcome(details={"unit_id": ctx.case.handling_unit_id})


async def _return(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, ReturnBody)
    from_unit = ctx.case.handling_unit_id or ""
    await deadlines.meet_deadlines(ctx.session, ctx.case.id, [DeadlineKind.RETURN], at=ctx.now)
    ctx.case.handling_unit_id = None  # back with the dispatcher, to be re-dispatched
    return _Outcome(
        [(contracts.CASE_RETURNED_V1, {"from_unit_id": from_unit, "reason": body.reason})],
        details={"from_unit_id": from_unit},
    )


async def _reply(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, ReplyBody)
    case = ctx.case
    met = await deadlines.meet_deadlines(ctx.session, case.id, HANDLING_KINDS, at=ctx.now)
    case.on_time = all(ctx.now <= d.due_at for d in met)
    # The reply answers the 督办 too (a unit's feedback to the supervisor comes with it).
    await deadlines.meet_deadlines(ctx.session, case.id, [DeadlineKind.SUPERVISION], at=ctx.now)
    case.reply_outcome = body.outcome
    case.replied_on = ctx.today
    unit = await ctx.session.get(OrgUnit, case.handling_unit_id) if case.handling_unit_id else None
    case.resolution_unit_id = unit.code if unit else None
    case.resolution_level = ResolutionLevel(unit.level.value) if unit else None
    case.grassroots = unit is not None and unit.level.value in ctx.settings.grassroots_levels
    return _Outcome(
        [(contracts.CASE_REPLIED_V1, {"outcome": body.outcome})],
        details={"outcome": body.outcome.value, "reply": body.reply, "on_time": case.on_time},
    )


async def _rate(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, RateBody)
    ctx.case.rating = body.rating
    return _Outcome(details={"rating": body.rating.value})


async def _close(ctx: _Context, body: ActionBody) -> _Outcome:
    case = ctx.case
    case.closed_on = ctx.today
    case.resolved_on = ctx.today
    case.effective = case.rating in EFFECTIVE_RATINGS
    await deadlines.cancel_deadlines(ctx.session, case.id, None, at=ctx.now)
    if case.review_stage is ReviewStage.RE_REVIEW:
        await _mark_final(ctx.session, case)
    resolved: dict[str, Any] = {
        "resolved_on": ctx.today,
        "resolution_unit_id": case.resolution_unit_id or "",
        "resolution_level": case.resolution_level or ResolutionLevel.DISTRICT,
        "grassroots": bool(case.grassroots),
        "effective": case.effective,
        "town_unit_id": case.town_unit_id,
        "definition_version": GRASSROOTS_DEFINITION_VERSION,
    }
    return _Outcome(
        [
            (contracts.CASE_RESOLVED_V1, resolved),
            (contracts.CASE_CLOSED_V1, {"closed_on": ctx.today, "rating": case.rating}),
        ],
        details={"effective": case.effective, "grassroots": case.grassroots},
    )


async def _mark_final(session: AsyncSession, case: Case) -> None:
    """Concluded by 复核: flag the whole chain so the same matter is not accepted again."""
    current: Case | None = case
    while current is not None:
        current.final = True
        current = (
            await session.get(Case, current.parent_case_id) if current.parent_case_id else None
        )


async def _reopen(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, ReopenBody)
    case = ctx.case
    previous = {
        "rating": case.rating.value if case.rating else None,
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
    }
    for name in (
        "closed_on",
        "resolved_on",
        "effective",
        "rating",
        "reply_outcome",
        "replied_on",
        "on_time",
    ):
        setattr(case, name, None)
    # The clock starts again from today: a 信访 case's handling (or its 复查/复核) period,
    # a ticket's tier.
    if case.kind is CaseKind.PETITION_CASE:
        kind = REVIEW_CLOCK.get(case.review_stage, DeadlineKind.HANDLING)
        spec = clocks.spec_for(ctx.rule(kind), started_at=ctx.now, starts_on=ctx.today)
    else:
        category = (
            await reference.get_category(ctx.session, case.category_code)
            if case.category_code
            else None
        )
        spec = await _hotline_spec(ctx.session, ctx.settings, case, category, now=ctx.now)
    await ctx.open_clock(spec)
    return _Outcome([(contracts.CASE_REOPENED_V1, {"reason": body.reason})], details=previous)


async def _extend(ctx: _Context, body: ActionBody) -> _Outcome:
    """Extend the running handling clock once, as its rule allows (deadlines/clocks.py): the
    extension is counted from the clock's start, with the length, and the end rolled past
    rest days like any period, never added to a date that was already rolled."""
    assert isinstance(body, ExtendBody)
    case = ctx.case
    clock = await _handling_clock(ctx)
    if clock is None:
        raise ActionRefused(
            "the case has no running handling clock to extend",
            case.status,
            problem_type="action-refused",
        )
    rule = ctx.rule(clock.kind)
    extension = rule.extension
    if extension is None:
        raise ActionRefused(
            f"the {rule.name} cannot be extended ({rule.basis})",
            case.status,
            problem_type="action-refused",
        )
    spec = deadlines.spec_of(clock)
    if spec.day_count is not extension.day_count:
        raise ActionRefused(
            f"this {rule.name} runs in {spec.day_count.value.replace('_', ' ')}; it is "
            f"extended in {extension.day_count.value.replace('_', ' ')} only",
            case.status,
            problem_type="action-refused",
        )
    if not 1 <= body.days <= extension.max_amount:
        unit = "working days" if extension.day_count is clocks.DayCount.WORKING_DAYS else "days"
        raise ProblemError(
            422,
            f"days: the {rule.name} is extended by 1 to {extension.max_amount} {unit} "
            f"({extension.basis})",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "days", "reason": "out of range"}]},
        )
    extended = await ctx.open_clock(replace(spec, extension=body.days))
    new_due_on = _due_day(extended)
    case.extended = True
    return _Outcome(
        [
            (
                contracts.CASE_EXTENDED_V1,
                {
                    "new_handling_due_on": new_due_on,
                    "reason": body.reason,
                    "approver": ctx.actor,  # the one who approves is the one who acts
                    "provisional": extended.provisional,
                },
            )
        ],
        details={
            "days": body.days,
            "approver": ctx.actor,
            "new_handling_due_on": new_due_on.isoformat(),
        },
    )


async def _supervise(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, SuperviseBody)
    if body.due_on < ctx.today:
        raise ProblemError(
            422,
            "due_on: a supervision due date is today or later",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "due_on", "reason": "in the past"}]},
        )
    # The supervisor is whoever puts the case under supervision (督办), never a name sent.
    ctx.case.supervisor_id = ctx.actor
    ctx.case.supervision_due_on = body.due_on
    rule = ctx.rule(DeadlineKind.SUPERVISION)
    await ctx.open_clock(clocks.spec_for(rule, started_at=ctx.now, starts_on=body.due_on))
    return _Outcome(
        [
            (
                contracts.CASE_SUPERVISED_V1,
                {
                    "supervisor_id": ctx.actor,
                    "due_on": body.due_on,
                    "note": body.note,
                },
            )
        ],
        details={"supervisor_id": ctx.actor, "due_on": body.due_on.isoformat()},
    )


_RANK = {UnitLevel.VILLAGE: 0, UnitLevel.TOWN: 1, UnitLevel.DEPARTMENT: 2, UnitLevel.DISTRICT: 3}


async def _escalate(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, EscalateBody)
    case = ctx.case
    target = await reference.get_unit(ctx.session, body.to_unit_id, field="to_unit_id")
    current = (
        await ctx.session.get(OrgUnit, case.handling_unit_id) if case.handling_unit_id else None
    )
    if current is not None and _RANK[target.level] <= _RANK[current.level]:
        raise ProblemError(
            422,
            f"to_unit_id: {target.code} ({target.level.value}) is not above the current unit "
            f"{current.code} ({current.level.value}); escalate to a higher level",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "to_unit_id", "reason": "not a higher level"}]},
        )
    await deadlines.cancel_deadlines(ctx.session, case.id, [DeadlineKind.RETURN], at=ctx.now)
    case.handling_unit_id = target.code
    return _Outcome(
        [(contracts.CASE_ESCALATED_V1, {"to_unit_id": target.code, "reason": body.reason})],
        details={"from_unit_id": current.code if current else None, "to_unit_id": target.code},
    )


async def _request_review(ctx: _Context, body: ActionBody) -> _Outcome:
    assert isinstance(body, RequestReviewBody)
    case = ctx.case
    stage = next_review_stage(case.review_stage)
    requested_on = body.requested_on or ctx.today
    petitioner = await ctx.session.get(Petitioner, case.id)
    sequence = await ctx.session.scalar(case_number_seq.next_value())
    assert sequence is not None
    label = "复查" if stage is ReviewStage.REVIEW else "复核"
    received_reply_on = body.reply_received_on or case.replied_on
    review = Case(
        id=uuid.uuid4(),
        case_number=format_case_number(case.kind.value, requested_on, sequence),
        kind=case.kind,
        channel=case.channel,
        subject=f"{label}：{case.subject}"[:200],
        description=body.reason,
        received_on=requested_on,
        status=CaseStatus.REGISTERED,
        version=1,
        category_code=case.category_code,
        place_unit_id=case.place_unit_id,
        place_address=case.place_address,
        latitude=case.latitude,
        longitude=case.longitude,
        town_unit_id=case.town_unit_id,
        handling_unit_id=None,
        urgent=case.urgent,
        group_size=case.group_size,
        attachments=[],
        source_client=case.source_client,
        first_time=False,
        repeat_of=None,
        repeat_confirmed=False,
        parent_case_id=case.id,
        review_stage=stage,
        review_requested=False,
        final=False,
        extended=False,
    )
    ctx.session.add(review)
    await ctx.session.flush()
    if petitioner is not None:
        # Ciphertexts are bound to their row: re-seal for the review case, never copy.
        personal = open_petitioner(petitioner, ctx.settings)
        sealed = Protector.from_settings(ctx.settings).seal(review.id, personal)
        ctx.session.add(Petitioner(case_id=review.id, **vars(sealed)))
    rule = clocks.rule_for(ctx.settings, REVIEW_CLOCK[stage], review.kind)
    await deadlines.open_deadline(
        ctx.session,
        review.id,
        clocks.spec_for(rule, started_at=ctx.now, starts_on=requested_on),
        ctx.calendar,
    )
    _record(
        ctx.session,
        review,
        action="register",
        from_status=None,
        actor=ctx.actor,
        at=ctx.now,
        reason=body.reason,
        details={
            "review_of": str(case.id),
            "review_stage": stage.value,
            "reply_received_on": received_reply_on.isoformat() if received_reply_on else None,
            "requested_on": requested_on.isoformat(),
        },
    )
    await ctx.session.flush()
    await ctx.session.refresh(review)
    await events.publish(
        ctx.session,
        ctx.settings,
        review,
        events.case_created(review, source=ctx.settings.event_source),
    )
    case.review_requested = True
    return _Outcome(
        details={
            "review_case_id": str(review.id),
            "review_stage": stage.value,
            "requested_on": requested_on.isoformat(),
        },
        created=review,
    )


_HANDLERS = {
    Action.ACCEPT: _accept,
    Action.DECLINE: _decline,
    Action.DISPATCH: _dispatch,
    Action.TAKE: _take,
    Action.RETURN: _return,
    Action.REPLY: _reply,
    Action.RATE: _rate,
    Action.CLOSE: _close,
    Action.REOPEN: _reopen,
    Action.EXTEND: _extend,
    Action.SUPERVISE: _supervise,
    Action.ESCALATE: _escalate,
    Action.REQUEST_REVIEW: _request_review,
}


# -------------------------------------------------------------------- first-time/repeat


async def link_repeat(
    session: AsyncSession,
    case_id: uuid.UUID,
    repeat_of: uuid.UUID,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    note: str | None,
) -> Case:
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    statement = select(Case).where(Case.id == repeat_of)
    in_scope = await scope_condition(session, scope)
    earlier = await session.scalar(statement if in_scope is None else statement.where(in_scope))
    if earlier is None:
        raise ProblemError(
            422,
            f"repeat_of: case {repeat_of} does not exist",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "repeat_of", "reason": "unknown"}]},
        )
    if earlier.id == case.id or earlier.created_at >= case.created_at:
        raise ProblemError(
            422,
            "repeat_of: a case repeats an earlier case, not itself or a later one",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "repeat_of", "reason": "not earlier"}]},
        )
    counted = rollup.share_of(case)
    case.repeat_of, case.first_time, case.repeat_confirmed = earlier.id, False, True
    await rollup.record_change(session, counted, rollup.share_of(case))
    return await _record_repeat_change(
        session,
        case,
        action="repeat_linked",
        actor=actor,
        note=note,
        details={"repeat_of": str(earlier.id)},
    )


async def confirm_repeat(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    note: str | None,
) -> Case:
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    if case.repeat_of is None:
        raise ProblemError(
            409,
            "the case is not linked as a repeat; link it with POST …/repeat",
            problem_type="not-a-repeat",
        )
    case.repeat_confirmed = True
    return await _record_repeat_change(
        session,
        case,
        action="repeat_confirmed",
        actor=actor,
        note=note,
        details={"repeat_of": str(case.repeat_of)},
    )


async def unlink_repeat(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    note: str | None,
) -> Case:
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    if case.repeat_of is None:
        raise ProblemError(409, "the case is not linked as a repeat", problem_type="not-a-repeat")
    previous = case.repeat_of
    counted = rollup.share_of(case)
    case.repeat_of, case.first_time, case.repeat_confirmed, case.repeat_score = (
        None,
        True,
        False,
        None,
    )
    await rollup.record_change(session, counted, rollup.share_of(case))
    return await _record_repeat_change(
        session,
        case,
        action="repeat_unlinked",
        actor=actor,
        note=note,
        details={"was_repeat_of": str(previous)},
    )


async def _record_repeat_change(
    session: AsyncSession,
    case: Case,
    *,
    action: str,
    actor: str,
    note: str | None,
    details: dict[str, Any],
) -> Case:
    """A change to the repeat link: a new version of the case and its timeline entry."""
    case.version += 1
    _record(
        session,
        case,
        action=action,
        from_status=case.status,
        actor=actor,
        at=_now(),
        reason=note,
        details=details,
    )
    await session.flush()
    await session.refresh(case)  # updated_at is set by the database
    return case


# ------------------------------------------------------------------------------ queries


async def search(
    session: AsyncSession,
    *,
    status: list[CaseStatus] | None = None,
    kind: CaseKind | None = None,
    unit: str | None = None,
    place_unit: str | None = None,
    category_code: str | None = None,
    channel: str | None = None,
    overdue: bool | None = None,
    deadline: DeadlineKind | None = None,
    supervised: bool | None = None,
    first_time: bool | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
    q: str | None = None,
    parent_case_id: uuid.UUID | None = None,
    phone_index: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
    scope: str | None = None,
) -> tuple[list[Case], str | None]:
    """Cases newest first, filtered; ``unit``/``place_unit`` match a whole subtree, and only
    cases in the caller's ``scope`` are seen. ``phone_index`` is the blind index of a
    petitioner's phone: the earlier cases of a caller, found without decrypting anything."""
    statement: Select[tuple[Case]] = select(Case)
    if phone_index is not None:
        statement = statement.where(
            Case.id.in_(select(Petitioner.case_id).where(Petitioner.phone_index == phone_index))
        )
    in_scope = await scope_condition(session, scope)
    if in_scope is not None:
        statement = statement.where(in_scope)
    if status:
        statement = statement.where(Case.status.in_(status))
    if kind:
        statement = statement.where(Case.kind == kind)
    if unit:
        path = await reference.subtree_path(session, unit, field="unit")
        statement = statement.where(
            Case.handling_unit_id.in_(
                select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True))
            )
        )
    if place_unit:
        path = await reference.subtree_path(session, place_unit, field="place_unit")
        statement = statement.where(
            Case.place_unit_id.in_(
                select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True))
            )
        )
    if category_code:
        statement = statement.where(Case.category_code == category_code)
    if channel:
        statement = statement.where(Case.channel == channel)
    if first_time is not None:
        statement = statement.where(Case.first_time.is_(first_time))
    if received_from:
        statement = statement.where(Case.received_on >= received_from)
    if received_to:
        statement = statement.where(Case.received_on <= received_to)
    if parent_case_id:
        statement = statement.where(Case.parent_case_id == parent_case_id)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                Case.subject.ilike(pattern),
                Case.description.ilike(pattern),
                Case.case_number.ilike(pattern),
            )
        )
    if overdue is not None:
        late = exists().where(
            and_(
                CaseDeadline.case_id == Case.id,
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled_at.is_(None),
                CaseDeadline.due_at < (now or _now()),
                true() if deadline is None else CaseDeadline.kind == deadline,
            )
        )
        statement = statement.where(late if overdue else ~late)
    if supervised is not None:
        # Under 督办: a supervision clock still running.
        watched = exists().where(
            and_(
                CaseDeadline.case_id == Case.id,
                CaseDeadline.kind == DeadlineKind.SUPERVISION,
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled_at.is_(None),
            )
        )
        statement = statement.where(watched if supervised else ~watched)
    if cursor:
        key = decode_cursor(cursor, datetime, uuid.UUID)
        statement = statement.where(func.row(Case.created_at, Case.id) < func.row(*key))
    rows = list(
        (
            await session.scalars(
                statement.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return rows, next_cursor
