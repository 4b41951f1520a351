"""What a caller sees: cases handled in its org-unit subtree or located there (属地) — except
a 检举控告 case, which the people of the unit it accuses never see.

Metrics' case lists and Open311 read through :func:`scope_condition` too, so one rule holds
everywhere a case can be seen.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ColumnElement,
    and_,
    false,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.problems import NotFoundError
from petitions_api.cases.models import (
    Case,
)
from petitions_api.reference.models import OrgUnit


async def scope_condition(session: AsyncSession, scope: str | None) -> ColumnElement[bool] | None:
    """Cases in the caller's org-unit subtree: handled there or located there (属地), and not
    accusing the caller's unit or a unit above it (检举控告).

    None: no restriction (district-level callers). An org unit this service does not know
    sees nothing.
    """
    if scope is None:
        return None
    path = await session.scalar(select(OrgUnit.path).where(OrgUnit.code == scope))
    if path is None:
        return false()
    units = select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True))
    # The caller's own unit and the units above it: a case accusing any of them is one the
    # caller belongs to the accused side of (不得将检举、揭发材料透露给被检举、揭发的单位).
    own_side = [code for code in str(path).split("/") if code]
    return and_(
        or_(Case.handling_unit_id.in_(units), Case.place_unit_id.in_(units)),
        or_(Case.accused_unit_id.is_(None), Case.accused_unit_id.notin_(own_side)),
    )


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


async def within_accused(session: AsyncSession, accused_unit_id: str | None, unit: OrgUnit) -> bool:
    """Is ``unit`` the unit a 检举控告 case accuses, or below it? Such a case is never sent
    there (不得将检举、揭发材料及有关情况透露或者转给被检举、揭发的人员或者单位)."""
    if accused_unit_id is None:
        return False
    path = await session.scalar(select(OrgUnit.path).where(OrgUnit.code == accused_unit_id))
    return path is not None and str(unit.path).startswith(str(path))
