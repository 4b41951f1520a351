"""Rules for plans and indicators. No HTTP here; the caller's unit of work commits."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, any_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gov_common.problems import NotFoundError, ProblemError
from targets_api.config import Settings
from targets_api.indicators import events
from targets_api.indicators.models import (
    Indicator,
    IndicatorStatus,
    Milestone,
    Plan,
)
from targets_api.indicators.schemas import IndicatorIn, PlanCopy, PlanCreate
from targets_api.indicators.status import (
    StatusInput,
    StatusResult,
    SubMilestone,
    Thresholds,
    compute_status,
)
from targets_api.live import service as live
from targets_api.progress.models import COUNTED_STATES, ProgressReport

# Live figures of a period just ended may still move (late resolutions of last year's cases).
_GRACE = timedelta(days=90)


class ConflictError(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(409, detail, problem_type="conflict")


def thresholds(settings: Settings) -> Thresholds:
    return Thresholds(
        on_track_ratio=Decimal(str(settings.status_on_track_ratio)),
        at_risk_ratio=Decimal(str(settings.status_at_risk_ratio)),
        level_tolerance=Decimal(str(settings.status_level_tolerance)),
    )


# --- plans -------------------------------------------------------------------------------


async def create_plan(session: AsyncSession, data: PlanCreate) -> Plan:
    if await session.scalar(select(Plan.id).where(Plan.code == data.code)) is not None:
        raise ConflictError(f"a plan with code {data.code!r} exists; choose another code")
    assert data.period_start is not None and data.period_end is not None
    plan = Plan(
        id=uuid.uuid4(),
        code=data.code,
        name_zh=data.name_zh,
        name_en=data.name_en,
        year=data.year,
        period_start=data.period_start,
        period_end=data.period_end,
        requires_approval=data.requires_approval,
        source=data.source,
    )
    session.add(plan)
    await session.flush()
    return plan


async def get_plan(session: AsyncSession, plan_ref: str | uuid.UUID) -> Plan:
    """A plan by id or by code."""
    try:
        plan_id = plan_ref if isinstance(plan_ref, uuid.UUID) else uuid.UUID(str(plan_ref))
        plan = await session.scalar(select(Plan).where(Plan.id == plan_id))
    except ValueError:
        plan = await session.scalar(select(Plan).where(Plan.code == str(plan_ref)))
    if plan is None:
        raise NotFoundError("plan", plan_ref)
    return plan


async def list_plans(session: AsyncSession) -> Sequence[Plan]:
    return (await session.scalars(select(Plan).order_by(Plan.year.desc(), Plan.code))).all()


# Catalogue columns a copy keeps as they are (dates are moved, status and reports are not kept).
_COPIED_COLUMNS = [
    "code",
    "position",
    "name_zh",
    "name_en",
    "wording_zh",
    "chapter",
    "category",
    "unit",
    "kind",
    "baseline",
    "target_value",
    "lead_department",
    "livelihood_project",
    "livelihood_number",
    "live_source",
]


def _next_year_name(name: str | None, old: int, new: int) -> str | None:
    return name.replace(str(old), str(new)) if name else None


def _shift_year(day: date | None, years: int) -> date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return day.replace(year=day.year + years, day=28)


async def copy_plan(session: AsyncSession, source: Plan, data: PlanCopy) -> Plan:
    """A new year's plan with last year's catalogue: same indicators, dates moved by the
    years between them, no reports and every status back to not started."""
    years = data.year - source.year
    plan = await create_plan(
        session,
        PlanCreate(
            code=data.code,
            name_zh=data.name_zh or source.name_zh.replace(str(source.year), str(data.year)),
            name_en=data.name_en
            or (
                source.name_en.replace(str(source.year), str(data.year)) if source.name_en else None
            ),
            year=data.year,
            period_start=_shift_year(source.period_start, years),
            period_end=_shift_year(source.period_end, years),
            requires_approval=source.requires_approval,
            source=source.source,
        ),
    )
    plan.copied_from_id = source.id
    indicators = await plan_indicators(session, source.id)
    milestones = await milestones_of(session, [i.id for i in indicators])
    for old in indicators:
        new = Indicator(
            id=uuid.uuid4(),
            plan_id=plan.id,
            status=IndicatorStatus.NOT_STARTED,
            **{column: getattr(old, column) for column in _COPIED_COLUMNS},
            co_departments=list(old.co_departments or []),
            period_start=_shift_year(old.period_start, years),
            period_end=_shift_year(old.period_end, years),
            due_date=_shift_year(old.due_date, years),
        )
        session.add(new)
        for m in milestones.get(old.id, []):
            session.add(
                Milestone(
                    indicator_id=new.id,
                    code=m.code,
                    position=m.position,
                    name_zh=m.name_zh,
                    name_en=m.name_en,
                    due_date=_shift_year(m.due_date, years),
                )
            )
    await session.flush()
    return plan


# --- indicators --------------------------------------------------------------------------


def _indicator_fields(plan: Plan, data: IndicatorIn, position: int) -> dict[str, Any]:
    period_start = data.period_start or plan.period_start
    period_end = data.period_end or plan.period_end
    if period_end < period_start:
        raise ProblemError(
            422,
            f"indicator {data.code}: period_end {period_end} is before period_start {period_start}",
            problem_type="validation-error",
        )
    return {
        "code": data.code,
        "position": position,
        "name_zh": data.name_zh,
        "name_en": data.name_en,
        "wording_zh": data.wording_zh,
        "chapter": data.chapter,
        "category": data.category,
        "unit": data.unit,
        "kind": data.kind,
        "baseline": data.baseline,
        "target_value": data.target,
        "period_start": period_start,
        "period_end": period_end,
        "due_date": data.due_date,
        "lead_department": data.lead_department,
        "co_departments": list(data.co_departments),
        "livelihood_project": data.livelihood_project,
        "livelihood_number": data.livelihood_number,
        "live_source": data.live_source,
    }


def _check_live_source(data: IndicatorIn) -> None:
    if data.live_source is not None and data.live_source not in live.LIVE_SOURCES:
        raise ProblemError(
            422,
            f"indicator {data.code}: unknown live_source {data.live_source!r}; "
            f"known: {', '.join(sorted(live.LIVE_SOURCES))}",
            problem_type="validation-error",
        )


async def add_indicator(
    session: AsyncSession, plan: Plan, data: IndicatorIn, *, position: int | None = None
) -> Indicator:
    _check_live_source(data)
    exists_already = await session.scalar(
        select(Indicator.id).where(Indicator.plan_id == plan.id, Indicator.code == data.code)
    )
    if exists_already is not None:
        raise ConflictError(f"plan {plan.code} already has an indicator {data.code}")
    if position is None:
        position = len(await plan_indicators(session, plan.id))
    indicator = Indicator(
        id=uuid.uuid4(), plan_id=plan.id, **_indicator_fields(plan, data, position)
    )
    session.add(indicator)
    for i, m in enumerate(data.milestones):
        session.add(
            Milestone(
                indicator_id=indicator.id,
                code=m.code,
                position=i,
                name_zh=m.name_zh,
                name_en=m.name_en,
                due_date=m.due_date,
            )
        )
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same code
        raise ConflictError(f"plan {plan.code} already has an indicator {data.code}") from exc
    return indicator


async def upsert_indicator(
    session: AsyncSession, plan: Plan, data: IndicatorIn, position: int
) -> tuple[Indicator, bool]:
    """Create the indicator, or update its catalogue fields in place (reports are kept).
    Returns the indicator and whether it was created."""
    _check_live_source(data)
    indicator = await session.scalar(
        select(Indicator).where(Indicator.plan_id == plan.id, Indicator.code == data.code)
    )
    if indicator is None:
        return await add_indicator(session, plan, data, position=position), True
    for name, value in _indicator_fields(plan, data, position).items():
        setattr(indicator, name, value)
    existing = {
        m.code: m for m in (await milestones_of(session, [indicator.id])).get(indicator.id, [])
    }
    for i, m in enumerate(data.milestones):
        row = existing.pop(m.code, None) or Milestone(indicator_id=indicator.id, code=m.code)
        row.position, row.name_zh, row.name_en, row.due_date = i, m.name_zh, m.name_en, m.due_date
        session.add(row)
    for stale in existing.values():
        await session.delete(stale)
    await session.flush()
    return indicator, False


async def get_indicator(session: AsyncSession, indicator_id: uuid.UUID) -> Indicator:
    indicator = await session.scalar(select(Indicator).where(Indicator.id == indicator_id))
    if indicator is None:
        raise NotFoundError("indicator", indicator_id)
    return indicator


async def plan_indicators(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[Indicator]:
    return (
        await session.scalars(
            select(Indicator)
            .where(Indicator.plan_id == plan_id)
            .order_by(Indicator.position, Indicator.code)
        )
    ).all()


async def milestones_of(
    session: AsyncSession, indicator_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Milestone]]:
    found: dict[uuid.UUID, list[Milestone]] = defaultdict(list)
    if not indicator_ids:
        return found
    rows = await session.scalars(
        select(Milestone)
        .where(Milestone.indicator_id.in_(indicator_ids))
        .order_by(Milestone.indicator_id, Milestone.position)
    )
    for m in rows:
        found[m.indicator_id].append(m)
    return found


@dataclass(frozen=True)
class IndicatorFilter:
    plan_id: uuid.UUID | None = None
    category: str | None = None
    department: str | None = None
    status: IndicatorStatus | None = None
    livelihood_project: bool | None = None


def filtered(query: Select[Any], f: IndicatorFilter) -> Select[Any]:
    if f.plan_id is not None:
        query = query.where(Indicator.plan_id == f.plan_id)
    if f.category is not None:
        query = query.where(Indicator.category == f.category)
    if f.department is not None:
        query = query.where(
            (Indicator.lead_department == f.department)
            | (f.department == any_(Indicator.co_departments))
        )
    if f.status is not None:
        query = query.where(Indicator.status == f.status)
    if f.livelihood_project is not None:
        query = query.where(Indicator.livelihood_project.is_(f.livelihood_project))
    return query


# --- progress and status -----------------------------------------------------------------


def counted_reports_query(indicator_ids: Sequence[uuid.UUID]) -> Select[Any]:
    """Reports that count: recorded or approved, and not replaced by a counted correction."""
    correction = aliased(ProgressReport)
    replaced = exists().where(
        and_(correction.supersedes_id == ProgressReport.id, correction.state.in_(COUNTED_STATES))
    )
    return (
        select(ProgressReport)
        .where(
            ProgressReport.indicator_id.in_(indicator_ids),
            ProgressReport.state.in_(COUNTED_STATES),
            ~replaced,
        )
        .order_by(ProgressReport.as_of.desc(), ProgressReport.created_at.desc())
    )


async def latest_counted_report(
    session: AsyncSession, indicator_id: uuid.UUID
) -> ProgressReport | None:
    return await session.scalar(counted_reports_query([indicator_id]).limit(1))


@dataclass(frozen=True)
class Evaluation:
    result: StatusResult
    value: Decimal | None
    done: bool | None
    as_of: date | None
    milestones_done: frozenset[str]
    live: live.RateFigure | None


async def evaluate(
    session: AsyncSession, indicator: Indicator, today: date, settings: Settings
) -> Evaluation:
    """The indicator's current value and status as of ``today``."""
    milestones = (await milestones_of(session, [indicator.id])).get(indicator.id, [])
    figure: live.RateFigure | None = None
    value: Decimal | None = None
    done: bool | None = None
    as_of: date | None = None
    milestones_done: frozenset[str] = frozenset()
    if indicator.live_source == live.FIRST_TIME_GRASSROOTS_RATE:
        end = min(indicator.period_end, max(today, indicator.period_start))
        figure = await live.first_time_grassroots_rate(session, indicator.period_start, end)
        value = figure.percent
        as_of = end if figure.denominator else None
    else:
        report = await latest_counted_report(session, indicator.id)
        if report is not None:
            value, done, as_of = report.value, report.done, report.as_of
            milestones_done = frozenset(report.milestones_done or [])
    result = compute_status(
        StatusInput(
            kind=indicator.kind,
            period_start=indicator.period_start,
            period_end=indicator.period_end,
            due_date=indicator.due_date,
            baseline=indicator.baseline,
            target=indicator.target_value,
            value=value,
            done=done,
            milestones=tuple(
                SubMilestone(m.code, m.due_date, m.code in milestones_done) for m in milestones
            ),
            reported=as_of is not None,
        ),
        today,
        thresholds(settings),
    )
    return Evaluation(result, value, done, as_of, milestones_done, figure)


async def refresh_status(
    session: AsyncSession, indicator: Indicator, today: date, settings: Settings
) -> Evaluation:
    """Recompute the status; on a change, store it and publish status_changed (and achieved)."""
    evaluation = await evaluate(session, indicator, today, settings)
    new = evaluation.result.status
    old = indicator.status
    if new != old:
        indicator.status = new
        await events.publish(
            session,
            settings,
            indicator,
            events.STATUS_CHANGED,
            events.status_changed(
                indicator,
                from_status=old,
                to_status=new,
                value=evaluation.value,
                expected_by_now=evaluation.result.expected_by_now,
            ),
        )
        if new is IndicatorStatus.ACHIEVED:
            await events.publish(
                session,
                settings,
                indicator,
                events.ACHIEVED,
                events.achieved(indicator, value=evaluation.value, on=evaluation.as_of or today),
            )
        await session.flush()
    return evaluation


async def refresh_live_indicators(
    session: AsyncSession, source: str, today: date, settings: Settings
) -> None:
    rows = await session.scalars(
        select(Indicator).where(
            Indicator.live_source == source,
            Indicator.period_start <= today,
            Indicator.period_end >= today - _GRACE,
        )
    )
    for indicator in rows.all():
        await refresh_status(session, indicator, today, settings)


def status_counts(statuses: Sequence[IndicatorStatus]) -> dict[str, int]:
    counts = Counter(s.value for s in statuses)
    return {s.value: counts.get(s.value, 0) for s in IndicatorStatus}
