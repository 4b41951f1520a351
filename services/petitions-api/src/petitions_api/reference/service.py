"""Loading the reference data and answering questions about it (routing, subtrees, tiers)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.problems import ProblemError
from petitions_api.config import Settings
from petitions_api.reference.cache import cache, database_key
from petitions_api.reference.files import (
    TOWN_TOKEN,
    CategoriesFile,
    OrgUnitsFile,
    paths,
    read_categories,
    read_org_units,
)
from petitions_api.reference.models import (
    Category,
    HotlineTier,
    OrgUnit,
    ReferenceVersion,
    UnitLevel,
)


@dataclass(frozen=True)
class LoadReport:
    org_units_version: str
    units: int
    categories_version: str
    categories: int


async def load_reference_data(session: AsyncSession, settings: Settings) -> LoadReport:
    """Upsert org units, tiers and categories from the configured files (idempotent)."""
    units_file, units_sum = read_org_units(settings.org_units_file)
    categories_file, categories_sum = read_categories(settings.categories_file)
    _check_routing(units_file, categories_file)
    await _load_units(session, units_file)
    await _load_categories(session, categories_file)
    for dataset, version, checksum, source in (
        ("org_units", units_file.version, units_sum, str(settings.org_units_file)),
        ("categories", categories_file.version, categories_sum, str(settings.categories_file)),
    ):
        statement = insert(ReferenceVersion).values(
            dataset=dataset, version=version, checksum=checksum, source=source
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[ReferenceVersion.dataset],
                set_={"version": version, "checksum": checksum, "source": source},
            )
        )
    await session.flush()
    # This process routes by the new rows from its next request on (other replicas: TTL).
    cache.invalidate(database_key(session.bind))
    return LoadReport(
        units_file.version,
        len(units_file.units),
        categories_file.version,
        len(categories_file.categories),
    )


def _check_routing(units: OrgUnitsFile, categories: CategoriesFile) -> None:
    known = {u.code for u in units.units}
    for category in categories.categories:
        targets = [category.default_unit, *category.by_place.keys(), *category.by_place.values()]
        for code in targets:
            if code != TOWN_TOKEN and code not in known:
                raise ValueError(f"category {category.code} names unknown org unit {code}")


async def _load_units(session: AsyncSession, data: OrgUnitsFile) -> None:
    unit_paths = paths(data.units)
    # Parents before children, so the self-referencing foreign key holds row by row.
    ordered = sorted(enumerate(data.units), key=lambda item: unit_paths[item[1].code].count("/"))
    for position, unit in ordered:
        values = {
            "name": unit.name,
            "short_name": unit.short,
            "level": unit.level,
            "parent_code": unit.parent,
            "path": unit_paths[unit.code],
            "active": True,
            "position": position,
        }
        await session.execute(
            insert(OrgUnit)
            .values(code=unit.code, **values)
            .on_conflict_do_update(index_elements=[OrgUnit.code], set_=values)
        )
    await session.execute(
        update(OrgUnit).where(OrgUnit.code.not_in(list(unit_paths))).values(active=False)
    )


async def _load_categories(session: AsyncSession, data: CategoriesFile) -> None:
    for tier in data.tiers:
        values = {
            "name": tier.name,
            "hours": tier.hours,
            "working_days": tier.working_days,
            "urgent": tier.code == data.urgent_tier,
        }
        await session.execute(
            insert(HotlineTier)
            .values(code=tier.code, **values)
            .on_conflict_do_update(index_elements=[HotlineTier.code], set_=values)
        )
    for position, category in enumerate(data.categories):
        cvalues = {
            "name": category.name,
            "group": category.group,
            "description": category.description,
            "keywords": category.keywords,
            "tier_code": category.tier,
            "default_unit": category.default_unit,
            "by_place": category.by_place,
            "active": True,
            "position": position,
        }
        await session.execute(
            insert(Category)
            .values(code=category.code, **cvalues)
            .on_conflict_do_update(index_elements=[Category.code], set_=cvalues)
        )
    codes = [c.code for c in data.categories]
    await session.execute(update(Category).where(Category.code.not_in(codes)).values(active=False))


class UnknownReferenceError(ProblemError):
    def __init__(self, what: str, code: str, field: str) -> None:
        super().__init__(
            422,
            f"{field}: {what} {code!r} does not exist or is inactive; "
            f"see GET /v1/{'org-units' if what == 'org unit' else 'categories'}",
            problem_type="unknown-reference",
            extra={"invalid_params": [{"name": field, "reason": f"unknown {what}"}]},
        )


async def get_unit(session: AsyncSession, code: str, *, field: str = "unit") -> OrgUnit:
    unit = (await cache.snapshot(session)).units.get(code)
    if unit is None or not unit.active:
        raise UnknownReferenceError("org unit", code, field)
    return unit


async def get_category(session: AsyncSession, code: str, *, field: str = "category") -> Category:
    category = (await cache.snapshot(session)).categories.get(code)
    if category is None or not category.active:
        raise UnknownReferenceError("category", code, field)
    return category


async def town_of(session: AsyncSession, unit: OrgUnit) -> OrgUnit | None:
    """The town/sub-district (镇办) a unit lies in, or the unit itself if it is one."""
    units = (await cache.snapshot(session)).units
    for code in unit.path.strip("/").split("/"):
        found = units.get(code) if code else None
        if found is not None and found.level == UnitLevel.TOWN:
            return found
    return None


async def route(session: AsyncSession, category: Category, place: OrgUnit | None) -> str | None:
    """The default handling unit of a category at a place (属地管理), or None if unknown."""
    if place is not None:
        ancestry = [c for c in place.path.strip("/").split("/") if c]
        # The most specific override wins: walk from the place up to the root.
        for code in reversed(ancestry):
            if code in category.by_place:
                target = str(category.by_place[code])
                return await _resolve_token(session, target, place)
    return await _resolve_token(session, category.default_unit, place)


async def _resolve_token(session: AsyncSession, target: str, place: OrgUnit | None) -> str | None:
    if target != TOWN_TOKEN:
        return target
    if place is None:
        return None
    town = await town_of(session, place)
    return town.code if town is not None else None


async def tier_for(session: AsyncSession, category: Category | None, urgent: bool) -> HotlineTier:
    snapshot = await cache.snapshot(session)
    if urgent and snapshot.urgent_tier is not None:
        return snapshot.urgent_tier
    if category is not None:
        found = snapshot.tiers.get(category.tier_code)
        if found is not None:
            return found
    if snapshot.fallback_tier is None:
        raise ProblemError(
            409, "no hotline time-limit tiers are loaded; load the categories data file"
        )
    return snapshot.fallback_tier


async def subtree_path(session: AsyncSession, code: str, *, field: str = "unit") -> str:
    unit = (await cache.snapshot(session)).units.get(code)
    if unit is None:
        raise UnknownReferenceError("org unit", code, field)
    return unit.path
