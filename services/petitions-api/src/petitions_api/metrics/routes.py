"""HTTP routes for the metrics: ``GET /v1/metrics/{metric}`` and ``…/{metric}/cases``, one
pair per definition (generated from ``definitions.DEFINITIONS``, so each route's OpenAPI
description is its definition), plus the list of definitions and a summary of all figures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from gov_common.app import SessionDep
from gov_common.pagination import Page
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.setup import PrincipalDep
from petitions_api.config import Settings
from petitions_api.metrics import service
from petitions_api.metrics.definitions import DEFINITIONS, MetricDefinition
from petitions_api.metrics.periods import Period, resolve_period
from petitions_api.metrics.schemas import (
    DefinitionRead,
    Figure,
    KindChoice,
    MetricCase,
    PeriodRead,
    ScopeRead,
    Summary,
    TownFigure,
    UnitBasis,
)
from petitions_api.security import scope_of

PREFIX = "/v1/metrics"
router = APIRouter(prefix=PREFIX, tags=["metrics"], responses=PROBLEM_RESPONSES)

PeriodParam = Annotated[
    str | None,
    Query(description="a month (2026-11), a quarter (2026-Q4) or a year (2026), Asia/Shanghai"),
]
FromParam = Annotated[
    date | None, Query(alias="from", description="first day of a range (with to)")
]
ToParam = Annotated[date | None, Query(alias="to", description="last day of a range, inclusive")]
UnitParam = Annotated[
    str | None,
    Query(min_length=1, max_length=32, description="org-unit code: count its whole subtree"),
]
BasisParam = Annotated[
    UnitBasis,
    Query(description="unit filter on the case's place (属地, default) or its handling unit"),
]
KindParam = Annotated[
    KindChoice | None,
    Query(description="which cases: the definition's default when omitted"),
]


def _definition_read(definition: MetricDefinition) -> DefinitionRead:
    default = definition.default_kind
    return DefinitionRead(
        id=definition.id,
        version=definition.version,
        title=definition.title,
        description=definition.description,
        period_basis=definition.basis_name,
        period_required=definition.period_required,
        default_kind=KindChoice(default.value) if default else KindChoice.ALL,
        kind_fixed=definition.kind_fixed,
        breakdown_by_town=definition.breakdown_by_town,
        cases_url=f"{PREFIX}/{definition.id}/cases",
    )


def _period_read(period: Period | None) -> PeriodRead | None:
    if period is None:
        return None
    return PeriodRead(
        label=period.label, granularity=period.granularity, start=period.start, end=period.end
    )


def _query_params(query: service.Query, **more: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if query.period is not None:
        if query.period.granularity == "range":
            params["from"] = query.period.start.isoformat()
            params["to"] = query.period.end.isoformat()
        else:
            params["period"] = query.period.label
    if query.unit:
        params["unit"] = query.unit
    if query.unit_basis is not UnitBasis.PLACE:
        params["unit_basis"] = query.unit_basis.value
    if not query.definition.kind_fixed:
        params["kind"] = query.kind_choice.value
    params.update({k: v for k, v in more.items() if v is not None})
    return params


def _cases_url(query: service.Query, **more: str | None) -> str:
    params = urlencode(_query_params(query, **more))
    return f"{PREFIX}/{query.definition.id}/cases" + (f"?{params}" if params else "")


def figure_view(result: service.Result) -> Figure:
    query, counts = result.query, result.counts

    def meets(rate: float | None) -> bool | None:
        if result.target is None or rate is None:
            return None
        return rate >= result.target

    components: dict[str, int | float] = dict(counts.parts)
    components.update(
        {f"{name}_weight": weight for name, weight in counts.weights.items() if weight != 1.0}
    )
    towns = None
    if result.towns is not None:
        towns = [
            TownFigure(
                town_unit_id=t.town_unit_id,
                town_name=t.town_name,
                numerator=t.counts.numerator,
                denominator=t.counts.denominator,
                rate=t.counts.rate,
                meets_target=meets(t.counts.rate),
                cases_url=_cases_url(query, town=t.town_unit_id or service.NO_TOWN),
            )
            for t in result.towns
        ]
    return Figure(
        definition_id=query.definition.id,
        definition_version=query.definition.version,
        title=query.definition.title,
        period=_period_read(query.period),
        period_basis=query.definition.basis_name if query.period is not None else None,
        as_of=query.as_of,
        scope=ScopeRead(
            unit=query.unit,
            unit_basis=query.unit_basis,
            kind=query.kind_choice,
            caller_scope=query.scope,
        ),
        numerator=counts.numerator,
        denominator=counts.denominator,
        rate=counts.rate,
        target=result.target,
        meets_target=meets(counts.rate),
        components=components,
        cases_url=_cases_url(query),
        breakdown=towns,
    )


@router.get("", summary="The metrics and their versioned definitions")
async def list_definitions() -> list[DefinitionRead]:
    return [_definition_read(d) for d in DEFINITIONS.values()]


@router.get("/summary", summary="Every figure for one period and subtree (default kinds)")
async def summary(
    session: SessionDep,
    request: Request,
    principal: PrincipalDep,
    period: PeriodParam = None,
    from_: FromParam = None,
    to: ToParam = None,
    unit: UnitParam = None,
    unit_basis: BasisParam = UnitBasis.PLACE,
) -> Summary:
    settings: Settings = request.app.state.settings
    resolved = resolve_period(period, from_, to)
    assert resolved is not None
    figures = []
    for definition in DEFINITIONS.values():
        query = service.Query(
            definition=definition,
            period=resolved,
            kind=definition.default_kind,
            unit=unit,
            scope=scope_of(principal),
            unit_basis=unit_basis,
        )
        figures.append(figure_view(await service.compute(session, query, settings=settings)))
    period_view = _period_read(resolved)
    assert period_view is not None
    return Summary(period=period_view, figures=figures)


def _figure_endpoint(definition: MetricDefinition) -> Callable[..., Awaitable[Figure]]:
    async def endpoint(
        session: SessionDep,
        request: Request,
        principal: PrincipalDep,
        period: PeriodParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        unit: UnitParam = None,
        unit_basis: BasisParam = UnitBasis.PLACE,
        kind: KindParam = None,
    ) -> Figure:
        query = service.Query(
            definition=definition,
            period=resolve_period(period, from_, to, required=definition.period_required),
            kind=service.choose_kind(definition, kind),
            unit=unit,
            scope=scope_of(principal),
            unit_basis=unit_basis,
        )
        result = await service.compute(session, query, settings=request.app.state.settings)
        return figure_view(result)

    endpoint.__name__ = f"metric_{definition.id.replace('-', '_')}"
    return endpoint


def _cases_endpoint(definition: MetricDefinition) -> Callable[..., Awaitable[Page[MetricCase]]]:
    async def endpoint(
        session: SessionDep,
        request: Request,
        principal: PrincipalDep,
        period: PeriodParam = None,
        from_: FromParam = None,
        to: ToParam = None,
        unit: UnitParam = None,
        unit_basis: BasisParam = UnitBasis.PLACE,
        kind: KindParam = None,
        in_numerator: Annotated[
            bool | None,
            Query(description="true: the numerator's cases; false: the rest; omitted: all"),
        ] = None,
        town: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=32,
                description=f"town code of the case's place, or {service.NO_TOWN!r}",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: str | None = None,
    ) -> Page[MetricCase]:
        query = service.Query(
            definition=definition,
            period=resolve_period(period, from_, to, required=definition.period_required),
            kind=service.choose_kind(definition, kind),
            unit=unit,
            scope=scope_of(principal),
            unit_basis=unit_basis,
        )
        rows, next_cursor = await service.cases(
            session,
            query,
            settings=request.app.state.settings,
            in_numerator=in_numerator,
            town=town,
            limit=limit,
            cursor=cursor,
        )
        items = [MetricCase.model_validate(row._mapping) for row in rows]
        return Page[MetricCase](items=items, next_cursor=next_cursor)

    endpoint.__name__ = f"metric_{definition.id.replace('-', '_')}_cases"
    return endpoint


def _describe(definition: MetricDefinition, extra: str) -> str:
    return f"{definition.description}\n{extra}"


for _definition in DEFINITIONS.values():
    router.add_api_route(
        f"/{_definition.id}",
        _figure_endpoint(_definition),
        methods=["GET"],
        summary=f"{_definition.title} ({_definition.version})",
        description=_describe(
            _definition,
            "Returns the numerator, the denominator, the rate, the definition's id and version, "
            "the period and `cases_url`: the cases behind the figure.",
        ),
        response_model=Figure,
    )
    router.add_api_route(
        f"/{_definition.id}/cases",
        _cases_endpoint(_definition),
        methods=["GET"],
        summary=f"The cases behind {_definition.id} ({_definition.version})",
        description=_describe(
            _definition,
            "Every case of the denominator, ordered by the period's day and id, with cursor "
            "pagination; `in_numerator=true` lists the numerator's cases.",
        ),
        response_model=Page[MetricCase],
    )
