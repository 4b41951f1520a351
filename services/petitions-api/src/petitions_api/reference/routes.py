"""Read-only routes for org units and categories (they change by loading a new data file)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from gov_common.app import SessionDep
from gov_common.problems import PROBLEM_RESPONSES
from petitions_api.reference import service
from petitions_api.reference.models import Category, HotlineTier, OrgUnit, ReferenceVersion
from petitions_api.reference.schemas import (
    CategoryRead,
    OrgUnitRead,
    ReferenceVersionRead,
    TierRead,
)

router = APIRouter(prefix="/v1", tags=["reference data"], responses=PROBLEM_RESPONSES)


@router.get("/org-units", summary="Org units, optionally one unit's subtree")
async def list_org_units(
    session: SessionDep,
    request: Request,
    under: str | None = Query(default=None, description="code of a unit: its subtree only"),
    include_inactive: bool = False,
) -> list[OrgUnitRead]:
    statement = select(OrgUnit).order_by(OrgUnit.position)
    if under is not None:
        path = await service.subtree_path(session, under, field="under")
        statement = statement.where(OrgUnit.path.startswith(path, autoescape=True))
    if not include_inactive:
        statement = statement.where(OrgUnit.active.is_(True))
    grassroots = set(request.app.state.settings.grassroots_levels)
    return [
        OrgUnitRead.model_validate(u).model_copy(update={"grassroots": u.level in grassroots})
        for u in (await session.scalars(statement)).all()
    ]


@router.get("/categories", summary="The category catalogue (事项分类)")
async def list_categories(
    session: SessionDep, include_inactive: bool = False
) -> list[CategoryRead]:
    statement = select(Category).order_by(Category.position)
    if not include_inactive:
        statement = statement.where(Category.active.is_(True))
    return [CategoryRead.model_validate(c) for c in (await session.scalars(statement)).all()]


@router.get("/hotline-tiers", summary="12345 time-limit tiers")
async def list_tiers(session: SessionDep) -> list[TierRead]:
    rows = (await session.scalars(select(HotlineTier).order_by(HotlineTier.code))).all()
    return [TierRead.model_validate(t) for t in rows]


@router.get("/reference-versions", summary="Versions of the loaded data files")
async def list_versions(session: SessionDep) -> list[ReferenceVersionRead]:
    rows = (await session.scalars(select(ReferenceVersion))).all()
    return [ReferenceVersionRead.model_validate(r) for r in rows]
