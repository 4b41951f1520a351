"""Import a validated catalogue into a plan, and read a plan back as a catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from targets_api.catalogue.yaml_io import CatalogueFile
from targets_api.config import Settings
from targets_api.indicators import service as indicators
from targets_api.indicators.models import Plan
from targets_api.indicators.schemas import IndicatorIn, MilestoneIn, PlanCreate


@dataclass(frozen=True)
class ImportResult:
    plan: Plan
    created: int
    updated: int


async def import_catalogue(
    session: AsyncSession,
    catalogue: CatalogueFile,
    *,
    settings: Settings,
    today: date,
    on_indicator: Callable[[str], None] | None = None,
) -> ImportResult:
    """Create the plan (or use the one with the same code) and create or update each indicator
    by code. All of it happens in the caller's transaction: an error leaves nothing behind."""
    plan = await session.scalar(select(Plan).where(Plan.code == catalogue.plan.code))
    if plan is None:
        plan = await indicators.create_plan(session, catalogue.plan)
    else:
        data = catalogue.plan
        plan.name_zh, plan.name_en, plan.year = data.name_zh, data.name_en, data.year
        assert data.period_start is not None and data.period_end is not None
        plan.period_start, plan.period_end = data.period_start, data.period_end
        plan.requires_approval, plan.source = data.requires_approval, data.source
    created = updated = 0
    for position, item in enumerate(catalogue.indicators):
        indicator, new = await indicators.upsert_indicator(session, plan, item, position)
        await indicators.refresh_status(session, indicator, today, settings)
        created += new
        updated += not new
        if on_indicator is not None:
            on_indicator(item.code)
    return ImportResult(plan, created, updated)


async def export_catalogue(session: AsyncSession, plan: Plan) -> CatalogueFile:
    rows = await indicators.plan_indicators(session, plan.id)
    milestones = await indicators.milestones_of(session, [i.id for i in rows])
    return CatalogueFile(
        plan=PlanCreate(
            code=plan.code,
            name_zh=plan.name_zh,
            name_en=plan.name_en,
            year=plan.year,
            period_start=plan.period_start,
            period_end=plan.period_end,
            requires_approval=plan.requires_approval,
            source=plan.source,
        ),
        indicators=[
            IndicatorIn(
                code=i.code,
                name_zh=i.name_zh,
                name_en=i.name_en,
                wording_zh=i.wording_zh,
                chapter=i.chapter,
                category=i.category,
                unit=i.unit,
                kind=i.kind,
                baseline=i.baseline,
                target=i.target_value,
                period_start=i.period_start if i.period_start != plan.period_start else None,
                period_end=i.period_end if i.period_end != plan.period_end else None,
                due_date=i.due_date,
                lead_department=i.lead_department,
                co_departments=list(i.co_departments or []),
                livelihood_project=i.livelihood_project,
                livelihood_number=i.livelihood_number,
                live_source=i.live_source,
                milestones=[
                    MilestoneIn(
                        code=m.code, name_zh=m.name_zh, name_en=m.name_en, due_date=m.due_date
                    )
                    for m in milestones.get(i.id, [])
                ],
            )
            for i in rows
        ],
    )
