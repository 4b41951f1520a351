"""A case as a caller reads it: its clocks, the steps it may take, its pending request, its
version (ETag), its timeline."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common import preconditions
from gov_common.security.principal import Principal
from petitions_api.cases import authority
from petitions_api.cases.lifecycle import Action
from petitions_api.cases.models import Case, CaseRequest, TimelineEntry
from petitions_api.cases.schemas import CaseRead, DeadlineRead, PendingRequestRead
from petitions_api.cases.scope import get_case
from petitions_api.deadlines import service as deadlines
from petitions_api.security import scope_of


async def case_view(session: AsyncSession, case: Case, caller: Principal | None = None) -> CaseRead:
    """The case as ``caller`` reads it: ``allowed_actions`` are the steps it may take now
    (``authority``); without a caller, every step the case offers."""
    if caller is None:
        pending = (await authority.pending_requests(session, [case])).get(case.id)
        allowed = authority.allowed_for(
            case, roles=None, acts_here=True, pending=pending.kind if pending else None
        )
        return await _view(session, case, allowed, pending)
    return (await case_views(session, [case], caller))[0]


async def case_views(session: AsyncSession, cases: list[Case], caller: Principal) -> list[CaseRead]:
    """:func:`case_view` for a page of cases (one query each for who may act on which and
    for the requests waiting on a decision)."""
    scope = scope_of(caller)
    acting = await authority.acts_on(session, cases, scope)
    pending = await authority.pending_requests(session, cases)
    views = []
    for case, acts_here in zip(cases, acting, strict=True):
        request = pending.get(case.id)
        allowed = authority.allowed_for(
            case,
            roles=caller.roles,
            acts_here=acts_here,
            scope=scope,
            pending=request.kind if request else None,
        )
        views.append(await _view(session, case, allowed, request))
    return views


async def _view(
    session: AsyncSession, case: Case, allowed: list[Action], request: CaseRequest | None
) -> CaseRead:
    clocks = await deadlines.all_deadlines(session, case.id)
    return CaseRead.model_validate(case).model_copy(
        update={
            "allowed_actions": allowed,
            "deadlines": [DeadlineRead.model_validate(d) for d in clocks],
            "pending_request": PendingRequestRead.model_validate(request) if request else None,
        }
    )


async def timeline(
    session: AsyncSession, case_id: uuid.UUID, *, scope: str | None = None
) -> list[TimelineEntry]:
    await get_case(session, case_id, scope=scope)
    rows = await session.scalars(
        select(TimelineEntry).where(TimelineEntry.case_id == case_id).order_by(TimelineEntry.id)
    )
    return list(rows.all())


def etag(case: Case) -> str:
    return preconditions.etag(case.version)


def check_if_match(case: Case, if_match: str | None) -> None:
    """A case action or repeat decision takes If-Match optionally (gov_common.preconditions):
    the lifecycle refuses a step the case's state does not allow, whatever was read."""
    preconditions.check_if_match(if_match, case.version, "case", required=False)
