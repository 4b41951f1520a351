"""Who may take which step on a case: its state, the caller's roles and the caller's unit.

Sight and authority differ. A caller with an org unit *sees* a case handled in its subtree or
located there (属地, ``service.scope_condition``). It *acts* only on a case whose handling unit
lies in its subtree — before dispatch, when no unit handles it yet, on one located there:
《信访工作条例》第二十二条 sends a matter to the organ with authority over it (有权处理的机关、
单位), and that organ handles and answers it. 陈炉镇 sees a case of 区住建局 in its place; the
reply is 区住建局's to give.

``allowed_for`` is what a case read lists as ``allowed_actions``: the steps *this caller* may
take now, so a console offers nothing the API would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.security.principal import Role
from petitions_api.cases.lifecycle import Action, allowed_actions
from petitions_api.cases.models import Case
from petitions_api.reference.models import OrgUnit
from petitions_api.security import ACTIONS


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


def roles_permit(roles: Iterable[Role] | None, action: Action) -> bool:
    """The access policy's roles for the action (``security.ACTIONS``, admin included);
    None: not restricted (calls from inside the service, e.g. tests of the rules)."""
    return roles is None or not ACTIONS[action.value].isdisjoint(roles)


def allowed_for(case: Case, *, roles: Iterable[Role] | None, acts_here: bool) -> list[Action]:
    """The steps the state allows that this caller may take (none where it only sees)."""
    if not acts_here:
        return []
    held = None if roles is None else frozenset(roles)
    return [a for a in allowed_actions(case.status) if roles_permit(held, a)]
