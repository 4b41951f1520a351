"""Who may take which step on a case: its state, the caller's roles and the caller's unit.

Sight and authority differ. A caller with an org unit *sees* a case handled in its subtree or
located there (属地, ``service.scope_condition``). It *acts* only on a case whose handling unit
lies in its subtree — before dispatch, when no unit handles it yet, on one located there:
《信访工作条例》第二十二条 sends a matter to the organ with authority over it (有权处理的机关、
单位), and that organ handles and answers it. 陈炉镇 sees a case of 区住建局 in its place; the
reply is 区住建局's to give.

Who takes a step is the state machine's *party* (``lifecycle``): the registry (信访部门 / 12345
centre), the handling unit, its head, or supervision (督办); ``security.PARTY_ROLES`` names
their roles. ``allowed_for`` is what a case read lists as ``allowed_actions``: the steps *this
caller* may take now (track, state, pending request, role, unit), so a console offers nothing
the API would refuse.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.security.principal import Role
from petitions_api.cases.lifecycle import (
    Action,
    Party,
    Position,
    RequestKind,
    allowed_actions,
    party,
    position,
)
from petitions_api.cases.models import Case, CaseRequest
from petitions_api.reference.models import OrgUnit
from petitions_api.security import PARTY_ROLES


def acting_unit(case: Case) -> str | None:
    """The unit on whose behalf steps are taken: the handling unit, else the place."""
    return case.handling_unit_id or case.place_unit_id


async def may_act_on(session: AsyncSession, case: Case, scope: str | None) -> bool:
    """True when the caller's unit (``scope``; None: the whole district) covers the case's
    acting unit."""
    return (await acts_on(session, [case], scope))[0]


async def acts_on(session: AsyncSession, cases: list[Case], scope: str | None) -> list[bool]:
    """:func:`may_act_on` for each case, in one query."""
    if scope is None:
        return [True] * len(cases)
    units = {scope} | {u for u in map(acting_unit, cases) if u is not None}
    rows = await session.execute(select(OrgUnit.code, OrgUnit.path).where(OrgUnit.code.in_(units)))
    paths = {code: str(path) for code, path in rows.all()}
    own = paths.get(scope)
    if own is None:
        return [False] * len(cases)
    return [
        (unit := acting_unit(case)) is not None and paths.get(unit, "").startswith(own)
        for case in cases
    ]


def may_take(
    party: Party,
    case: Case,
    *,
    roles: Iterable[Role] | None,
    scope: str | None,
) -> bool:
    """Whether a caller with ``roles`` (None: not restricted — calls from inside the service,
    e.g. tests of the rules) and org unit ``scope`` is the ``party`` of a step on ``case``.

    The unit's head approves for its own unit only: 经本机关、单位负责人批准 is the head of
    the handling unit, not a head above it or any supervisor. (Admin stands in for any party.)
    """
    if roles is None:
        return True
    held = frozenset(roles)
    if Role.ADMIN in held:
        return True
    if held.isdisjoint(PARTY_ROLES[party]):
        return False
    if party is Party.UNIT_HEAD:
        return scope is not None and scope == case.handling_unit_id
    return True


def position_of(case: Case, pending: RequestKind | None) -> Position:
    return position(
        case.kind,
        case.review_stage,
        case.status,
        pending=pending,
        accepted=case.accepted_on is not None,
    )


def allowed_for(
    case: Case,
    *,
    roles: Iterable[Role] | None,
    acts_here: bool,
    scope: str | None = None,
    pending: RequestKind | None = None,
) -> list[Action]:
    """The steps the case offers now that this caller may take (none where it only sees)."""
    if not acts_here:
        return []
    where = position_of(case, pending)
    return [
        action
        for action in allowed_actions(where)
        if may_take(party(where, action), case, roles=roles, scope=scope)
    ]


async def pending_requests(
    session: AsyncSession, cases: list[Case]
) -> dict[uuid.UUID, CaseRequest]:
    """The undecided request of each case that has one (one query for a page)."""
    if not cases:
        return {}
    rows = await session.scalars(
        select(CaseRequest).where(
            CaseRequest.case_id.in_([c.id for c in cases]), CaseRequest.decided_at.is_(None)
        )
    )
    return {request.case_id: request for request in rows.all()}
