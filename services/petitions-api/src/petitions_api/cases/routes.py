"""HTTP routes for cases.

Lifecycle actions are ``POST /v1/cases/{id}/actions/{action}``, one route per action (each
with its own body schema), generated from the state machine's table. Mutations honour
``If-Match`` with the case's ``ETag``; the answer to a disallowed action is a 409 problem
that lists ``allowed_actions``.

Who acts is the authenticated caller (its ``sub``), recorded on the timeline; which cases it
sees and acts on is its org-unit scope (``security.scope_of``); roles per route are
``security.POLICY``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from gov_common.app import SessionDep
from gov_common.events.petitions import CaseKind, Channel, DeadlineKind
from gov_common.idempotency import IdempotencyKeyHeader
from gov_common.pagination import Page
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.access import ForbiddenError
from gov_common.security.audit import record_personal_data_access
from gov_common.security.setup import PrincipalDep
from petitions_api.cases import (
    actions,
    idempotency,
    petitioners,
    repeat_candidates,
    repeat_links,
    search,
    views,
)
from petitions_api.cases.lifecycle import Action, CaseStatus
from petitions_api.cases.personal_data import Protector
from petitions_api.cases.registration import register
from petitions_api.cases.schemas import (
    ACTION_BODIES,
    ActionBody,
    CaseCreate,
    CaseRead,
    PetitionerRead,
    RepeatLink,
    TimelineEntryRead,
)
from petitions_api.cases.scope import get_case
from petitions_api.db import PersonalDataAccess
from petitions_api.security import may_read_personal_data, registers_petitions, scope_of

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)

IfMatchHeader = Annotated[
    str | None, Header(alias="If-Match", description="the case's ETag; 412 if it changed")
]


def _case_response(view: CaseRead, *, status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        view.model_dump(mode="json"),
        status_code=status_code,
        headers={"ETag": f'"{view.version}"', **headers},
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a ticket or petition case",
    response_model=CaseRead,
)
async def create_case(
    body: CaseCreate,
    session: SessionDep,
    request: Request,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    settings = request.app.state.settings
    if body.kind is CaseKind.PETITION_CASE and not registers_petitions(principal):
        raise ForbiddenError(
            "a system client files hotline tickets (kind hotline_ticket); 信访 petition cases "
            "are registered by the 信访 registry (role operator)"
        )
    # Keys are the caller's own: another client's key neither replays nor blocks this one.
    claim = None
    if idempotency_key is not None:
        guard = idempotency.registration_guard(session, request, principal, idempotency_key, body)
        claimed = await idempotency.claim_idempotency_key(
            session, guard, repeat_candidates.repeat_lookup(body, settings)
        )
        if isinstance(claimed, idempotency.IdempotencyClaim):
            claim = claimed
        elif claimed.response_body is None:
            # Claimed earlier without an answer: this request answers and remembers it.
            claim = idempotency.IdempotencyClaim(
                scope=guard.scope, key=idempotency_key, case_sequence=None
            )
        else:
            return idempotency.replay(guard, claimed)
    registration = await register(
        session,
        body,
        settings=settings,
        actor=principal.subject,
        source_client=principal.subject,
        claim=claim,
        caller=principal,
    )
    case = registration.case
    # The answer was serialised once: these bytes are also the remembered answer.
    return Response(
        registration.body,
        status_code=201,
        media_type="application/json",
        headers={"ETag": f'"{case.version}"', "Location": f"/v1/cases/{case.id}"},
    )


@router.get("", summary="List, filter and search cases in the caller's scope (newest first)")
async def list_cases(
    session: SessionDep,
    principal: PrincipalDep,
    request: Request,
    status_: Annotated[list[CaseStatus] | None, Query(alias="status")] = None,
    kind: CaseKind | None = None,
    unit: Annotated[str | None, Query(description="handling unit code: its whole subtree")] = None,
    place_unit: Annotated[str | None, Query(description="place unit code: its subtree")] = None,
    category: str | None = None,
    channel: Channel | None = None,
    overdue: Annotated[bool | None, Query(description="has a running clock past due")] = None,
    deadline: Annotated[
        DeadlineKind | None,
        Query(description="with overdue: only clocks of this kind, e.g. supervision (督办)"),
    ] = None,
    supervised: Annotated[
        bool | None, Query(description="under 督办: a supervision clock is running")
    ] = None,
    first_time: bool | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="text")] = None,
    parent_case_id: UUID | None = None,
    phone: Annotated[
        str | None,
        Query(
            min_length=5,
            max_length=32,
            pattern=r"^[0-9+\-() ]+$",
            description=(
                "a caller's phone: their earlier cases (repeat-caller lookup). Only for roles "
                "that may read personal data; each lookup is written to the access log."
            ),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> Page[CaseRead]:
    phone_index: tuple[str, ...] | None = None
    if phone is not None:
        if not may_read_personal_data(principal):
            raise ForbiddenError("a phone lookup needs a role that may read personal data")
        lookup = Protector.from_settings(request.app.state.settings).phone_lookup(phone)
        phone_index = lookup or None
        await record_personal_data_access(
            session,
            PersonalDataAccess,
            principal,
            resource_type="case-search",
            resource_id="by-phone",
            fields=["phone"],
            action="search",
        )
    rows, next_cursor = await search.search(
        session,
        status=status_,
        kind=kind,
        unit=unit,
        place_unit=place_unit,
        category_code=category,
        channel=channel,
        overdue=overdue,
        deadline=deadline,
        supervised=supervised,
        first_time=first_time,
        received_from=received_from,
        received_to=received_to,
        q=q,
        parent_case_id=parent_case_id,
        phone_index=phone_index,
        limit=limit,
        cursor=cursor,
        scope=scope_of(principal),
    )
    items = await views.case_views(session, list(rows), principal)
    return Page[CaseRead](items=items, next_cursor=next_cursor)


@router.get("/{case_id}", summary="Read one case", response_model=CaseRead)
async def read_case(case_id: UUID, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    case = await get_case(session, case_id, scope=scope_of(principal))
    return _case_response(await views.case_view(session, case, principal))


@router.get("/{case_id}/timeline", summary="Every step of the case: who, when, why")
async def read_timeline(
    case_id: UUID, session: SessionDep, principal: PrincipalDep
) -> list[TimelineEntryRead]:
    entries = await views.timeline(session, case_id, scope=scope_of(principal))
    return [TimelineEntryRead.model_validate(e) for e in entries]


@router.get(
    "/{case_id}/petitioner",
    summary="The petitioner's personal data (kept out of case reads, events and logs)",
    description=(
        "In full for operators, handlers and supervisors in scope and for admins — each such "
        "read is written to the personal-data access log — and masked for other callers."
    ),
)
async def read_petitioner(
    case_id: UUID, session: SessionDep, request: Request, principal: PrincipalDep
) -> PetitionerRead:
    return await petitioners.read_petitioner(
        session,
        case_id,
        principal=principal,
        unmasked=may_read_personal_data(principal),
        settings=request.app.state.settings,
        scope=scope_of(principal),
    )


@router.post("/{case_id}/repeat", summary="Link the case as a repeat of an earlier one")
async def link_repeat(
    case_id: UUID,
    body: RepeatLink,
    session: SessionDep,
    request: Request,
    principal: PrincipalDep,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    case = await repeat_links.link_repeat(
        session,
        case_id,
        body.repeat_of,
        actor=principal.subject,
        if_match=if_match,
        note=body.note,
        scope=scope_of(principal),
        settings=request.app.state.settings,
    )
    return await views.case_view(session, case, principal)


@router.post("/{case_id}/repeat/confirm", summary="Confirm the detected repeat link")
async def confirm_repeat(
    case_id: UUID,
    session: SessionDep,
    request: Request,
    principal: PrincipalDep,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    case = await repeat_links.confirm_repeat(
        session,
        case_id,
        actor=principal.subject,
        if_match=if_match,
        note=None,
        scope=scope_of(principal),
        settings=request.app.state.settings,
    )
    return await views.case_view(session, case, principal)


@router.delete("/{case_id}/repeat", summary="Unlink: the case is a first-time petition after all")
async def unlink_repeat(
    case_id: UUID,
    session: SessionDep,
    request: Request,
    principal: PrincipalDep,
    if_match: IfMatchHeader = None,
) -> CaseRead:
    case = await repeat_links.unlink_repeat(
        session,
        case_id,
        actor=principal.subject,
        if_match=if_match,
        note=None,
        scope=scope_of(principal),
        settings=request.app.state.settings,
    )
    return await views.case_view(session, case, principal)


ACTION_SUMMARIES = {
    Action.ACCEPT: "Accept (受理); a 信访 case: the organ, with the written notice (书面告知)",
    Action.DECLINE: "Decline (不予受理); a 信访 case: naming the statutory route, with the notice",
    Action.DISPATCH: "Dispatch (派单 / 转送 / 交办); the category's routing if no unit is named",
    Action.TAKE: "The unit takes the case (签收)",
    Action.RETURN: "Return a wrongly routed case within the window (退单); a 信访 case: a request",
    Action.APPROVE_RETURN: "The 信访部门 agrees to a return and re-dispatches (同意退回)",
    Action.REFUSE_RETURN: "The 信访部门 refuses a return: the case stays with the unit",
    Action.REPLY: "Reply to the petitioner with the outcome (答复)",
    Action.RATE: "Record the call-back's rating (回访评价)",
    Action.CLOSE: "Close the case (办结/结案)",
    Action.REOPEN: "Reopen after a dissatisfied rating (重办)",
    Action.EXTEND: "Extend a 12345 ticket's deadline once (延期, the centre's supervisor)",
    Action.REQUEST_EXTENSION: "The unit asks to extend a 信访 case, ≤ 30 days (延期申请)",
    Action.APPROVE_EXTENSION: "The unit's head approves the extension (第三十四条)",
    Action.REFUSE_EXTENSION: "The unit's head refuses the extension",
    Action.SUPERVISE: "Put under supervision with a due date (督办)",
    Action.ESCALATE: "Escalate to a higher level (提级)",
    Action.REQUEST_REVIEW: "Record a 复查/复核 request: opens a review case at the organ above",
}


def _action_endpoint(
    action: Action, body_model: type[ActionBody]
) -> Callable[..., Awaitable[JSONResponse]]:
    async def endpoint(
        case_id: UUID,
        body: Any,
        session: SessionDep,
        request: Request,
        principal: PrincipalDep,
        if_match: IfMatchHeader = None,
    ) -> JSONResponse:
        case, created = await actions.perform(
            session,
            case_id,
            action,
            body,
            actor=principal.subject,
            if_match=if_match,
            settings=request.app.state.settings,
            scope=scope_of(principal),
            roles=principal.roles,
        )
        headers = {"Location": f"/v1/cases/{created.id}"} if created is not None else {}
        return _case_response(await views.case_view(session, case, principal), **headers)

    endpoint.__annotations__["body"] = body_model
    endpoint.__name__ = f"case_{action.value}"
    return endpoint


for _action, _model in ACTION_BODIES.items():
    router.add_api_route(
        f"/{{case_id}}/actions/{_action.value}",
        _action_endpoint(_action, _model),
        methods=["POST"],
        summary=ACTION_SUMMARIES[_action],
        response_model=CaseRead,
        tags=["case lifecycle"],
    )
