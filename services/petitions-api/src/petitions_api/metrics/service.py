"""Computing figures: one SQL aggregate per figure on the denormalised, indexed case columns
(never a loop over cases), and the cases behind each figure, page by page.

Every function takes ``unit`` (a caller's filter, on the place or the handling unit) and
``scope`` (the caller's own org-unit subtree, which the routes pass from the principal): a
case counts only inside both — inside the scope when its place or its handling unit lies in
the subtree, the same rule as every other read of cases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.petitions import CaseKind
from gov_common.pagination import decode_cursor, encode_cursor
from gov_common.problems import ProblemError
from petitions_api.cases.models import Case
from petitions_api.cases.scope import scope_condition
from petitions_api.config import Settings
from petitions_api.metrics import rollup
from petitions_api.metrics.definitions import DEFINITIONS, GRASSROOTS, Context, MetricDefinition
from petitions_api.metrics.periods import Period
from petitions_api.metrics.schemas import KindChoice, UnitBasis
from petitions_api.reference import service as reference
from petitions_api.reference.models import OrgUnit, UnitLevel

NO_TOWN = "none"  # the ``town`` filter's value for cases whose place is not in a town


@dataclass(frozen=True)
class Query:
    """What a figure is asked for: the definition, the period and the filters."""

    definition: MetricDefinition
    period: Period | None
    kind: CaseKind | None
    unit: str | None = None
    scope: str | None = None
    unit_basis: UnitBasis = UnitBasis.PLACE
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def kind_choice(self) -> KindChoice:
        return KindChoice(self.kind.value) if self.kind else KindChoice.ALL


@dataclass(frozen=True)
class Counts:
    denominator: int
    parts: dict[str, int]
    weights: dict[str, float]

    @property
    def numerator(self) -> int | float:
        total = sum(self.parts[name] * self.weights[name] for name in self.parts)
        if all(weight == 1.0 for weight in self.weights.values()):
            return int(total)
        return total

    @property
    def rate(self) -> float | None:
        if self.denominator == 0:
            return None
        return round(self.numerator / self.denominator, 6)


@dataclass(frozen=True)
class TownCounts:
    town_unit_id: str | None
    town_name: str | None
    counts: Counts


@dataclass(frozen=True)
class Result:
    query: Query
    counts: Counts
    target: float | None
    towns: list[TownCounts] | None


def get_definition(metric_id: str) -> MetricDefinition:
    try:
        return DEFINITIONS[metric_id]
    except KeyError:
        raise ProblemError(
            404,
            f"metric {metric_id!r} does not exist; the metrics are {', '.join(DEFINITIONS)}",
            problem_type="not-found",
        ) from None


def choose_kind(definition: MetricDefinition, kind: KindChoice | None) -> CaseKind | None:
    """The kinds a figure counts: the caller's choice where the definition allows one."""
    if kind is None:
        return definition.default_kind
    chosen = None if kind is KindChoice.ALL else CaseKind(kind.value)
    if definition.kind_fixed and chosen != definition.default_kind:
        fixed = definition.default_kind.value if definition.default_kind else "all"
        raise ProblemError(
            422,
            f"kind: {definition.id} counts {fixed} only ({definition.version}); leave kind out",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "kind", "reason": f"fixed to {fixed}"}]},
        )
    return chosen


def check_period(definition: MetricDefinition, period: Period | None) -> None:
    if period is None and definition.period_required:
        raise ProblemError(
            422,
            f"period: {definition.id} is counted per period; "
            "give period=2026-11, 2026-Q4 or 2026, or from and to",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "period", "reason": "required"}]},
        )


async def _conditions(
    session: AsyncSession, query: Query, settings: Settings
) -> list[ColumnElement[bool]]:
    definition = query.definition
    context = Context(settings=settings, as_of=query.as_of)
    conditions = list(definition.population(context))
    if query.kind is not None:
        conditions.append(Case.kind == query.kind)
    if query.period is not None and definition.period_basis is not None:
        conditions.append(definition.period_basis.between(query.period.start, query.period.end))
    column = Case.place_unit_id if query.unit_basis is UnitBasis.PLACE else Case.handling_unit_id
    if query.unit is not None:
        path = await reference.subtree_path(session, query.unit, field="unit")
        # A materialised-path prefix: the subtree's codes come from the small org-unit table.
        conditions.append(
            column.in_(select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True)))
        )
    in_scope = await scope_condition(session, query.scope)
    if in_scope is not None:
        conditions.append(in_scope)
    return conditions


def _aggregates(query: Query, settings: Settings) -> tuple[list[Any], dict[str, float]]:
    parts = query.definition.numerator(Context(settings=settings, as_of=query.as_of))
    columns: list[Any] = [func.count().label("denominator")]
    columns += [func.count().filter(part.condition).label(part.name) for part in parts]
    return columns, {part.name: part.weight for part in parts}


def _counts(row: Any, weights: dict[str, float]) -> Counts:
    mapping = row._mapping
    return Counts(
        denominator=int(mapping["denominator"]),
        parts={name: int(mapping[name]) for name in weights},
        weights=weights,
    )


async def compute(
    session: AsyncSession,
    query: Query,
    *,
    settings: Settings,
    with_towns: bool | None = None,
) -> Result:
    """The figure asked for; the per-town breakdown too where the definition has one.

    With the breakdown, the total is the sum of the towns (one aggregate, not two)."""
    check_period(query.definition, query.period)
    breakdown = with_towns if with_towns is not None else query.definition.breakdown_by_town
    target = settings.grassroots_target if query.definition.has_target else None
    if from_rollup(query) or breakdown:
        found, weights = await _counts_by_town(session, query, settings)
        counts = Counts(
            sum(c.denominator for c in found.values()),
            {name: sum(c.parts[name] for c in found.values()) for name in weights},
            weights,
        )
        towns = await _by_town(session, query, found, weights) if breakdown else None
        return Result(query=query, counts=counts, target=target, towns=towns)
    conditions = await _conditions(session, query, settings)
    columns, weights = _aggregates(query, settings)
    row = (await session.execute(select(*columns).where(*conditions))).one()
    return Result(query=query, counts=_counts(row, weights), target=target, towns=None)


async def _counts_by_town(
    session: AsyncSession, query: Query, settings: Settings
) -> tuple[dict[str | None, Counts], dict[str, float]]:
    """The figure's counts per town of the case's place (towns that counted nothing left
    out): from the grassroots rollup where it answers the query, else from the cases."""
    if from_rollup(query):
        assert query.period is not None
        (part,) = query.definition.numerator(Context(settings=settings, as_of=query.as_of))
        weights = {part.name: part.weight}
        rows = await rollup.by_town(session, query.period.start, query.period.end)
        found = {
            town: Counts(denominator, {part.name: numerator}, weights)
            for town, (numerator, denominator) in rows.items()
        }
        return found, weights
    conditions = await _conditions(session, query, settings)
    columns, weights = _aggregates(query, settings)
    statement = select(Case.town_unit_id, *columns).where(*conditions)
    grouped = (await session.execute(statement.group_by(Case.town_unit_id))).all()
    return {row.town_unit_id: _counts(row, weights) for row in grouped}, weights


def from_rollup(query: Query) -> bool:
    """Whether the figure is read from the grassroots rollup (metrics/rollup.py): the
    grassroots definition, district-wide. The rollup is kept per day and town only, so a unit
    filter or a caller's scope (place *or* handling unit in a subtree) is counted from cases."""
    return (
        query.definition.id == GRASSROOTS.id
        and query.kind == CaseKind.PETITION_CASE
        and query.period is not None
        and query.unit is None
        and query.scope is None
    )


async def _by_town(
    session: AsyncSession,
    query: Query,
    found: dict[str | None, Counts],
    weights: dict[str, float],
) -> list[TownCounts]:
    # Every active town in the filters' subtrees is listed, with 0 of 0 when it had no case.
    towns_statement = select(OrgUnit.code, OrgUnit.name).where(
        OrgUnit.level == UnitLevel.TOWN, OrgUnit.active.is_(True)
    )
    for code in (query.unit, query.scope):
        if code is not None:
            path = await session.scalar(select(OrgUnit.path).where(OrgUnit.code == code))
            # A scope this service does not know lists no town (and counted no case).
            towns_statement = towns_statement.where(
                OrgUnit.path.startswith(path, autoescape=True) if path else false()
            )
    names: dict[str | None, str | None] = {
        code: name
        for code, name in (await session.execute(towns_statement.order_by(OrgUnit.position))).all()
    }
    missing = [c for c in found if c is not None and c not in names]
    if missing:
        others = select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(missing))
        names.update((await session.execute(others)).all())
    empty = Counts(0, dict.fromkeys(weights, 0), weights)
    result = [TownCounts(code, name, found.get(code, empty)) for code, name in names.items()]
    if None in found:
        result.append(TownCounts(None, None, found[None]))
    return result


async def cases(
    session: AsyncSession,
    query: Query,
    *,
    settings: Settings,
    in_numerator: bool | None = None,
    town: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[list[Any], str | None]:
    """The cases behind a figure (its denominator), ordered by the period's day and id."""
    check_period(query.definition, query.period)
    conditions = await _conditions(session, query, settings)
    parts = query.definition.numerator(Context(settings=settings, as_of=query.as_of))
    counted = or_(*(part.condition for part in parts))
    weight = case(
        *((part.condition, cast(part.weight, Float)) for part in parts), else_=cast(0.0, Float)
    )
    if in_numerator is not None:
        conditions.append(counted if in_numerator else ~counted)
    if town == NO_TOWN:
        conditions.append(Case.town_unit_id.is_(None))
    elif town is not None:
        conditions.append(Case.town_unit_id == town)
    basis = query.definition.period_basis or Case.received_on
    statement = select(
        Case.id,
        Case.case_number,
        Case.kind,
        Case.status,
        Case.received_on,
        Case.closed_on,
        Case.responded_at,
        Case.town_unit_id,
        Case.place_unit_id,
        Case.handling_unit_id,
        Case.resolution_level,
        Case.first_time,
        Case.effective,
        Case.grassroots,
        Case.on_time,
        Case.rating,
        counted.label("in_numerator"),
        weight.label("weight"),
        basis.label("sort_day"),
    ).where(*conditions)
    if cursor:
        key = decode_cursor(cursor, date, uuid.UUID)
        statement = statement.where(and_(func.row(basis, Case.id) > func.row(*key)))
    rows = list((await session.execute(statement.order_by(basis, Case.id).limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.sort_day.isoformat(), str(last.id)])
    return rows, next_cursor
