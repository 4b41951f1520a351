"""Rules for progress reports and the reminder sweep. No HTTP; the caller commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.clock import today_in_china
from gov_common.problems import NotFoundError, ProblemError
from gov_common.security.principal import Principal
from targets_api.config import Settings
from targets_api.indicators import events
from targets_api.indicators import service as indicators
from targets_api.indicators.models import Indicator, IndicatorKind, IndicatorStatus
from targets_api.progress.models import ProgressReport, ReportState
from targets_api.progress.schemas import ReportCreate, ReportReview


def _invalid(detail: str) -> ProblemError:
    return ProblemError(422, detail, problem_type="validation-error")


def _not_responsible(detail: str) -> ProblemError:
    return ProblemError(403, detail, problem_type="not-responsible")


def reporting_department(indicator: Indicator, reporter: Principal) -> str:
    """The department a report is filed for: the caller's own org unit, and only when that
    department leads or co-organises the indicator (牵头单位 / 配合单位). Everyone, admins
    included, reports as a department, so a report always names a responsible one."""
    department = reporter.org_unit
    if not department:
        raise _not_responsible(
            "progress is reported by a department: sign in with a token or API key that "
            "names your department's org_unit"
        )
    responsible = indicator.departments
    if not responsible:
        raise _not_responsible(
            f"indicator {indicator.code} has no lead or co-organising department yet; "
            "the planning office assigns one before progress can be reported"
        )
    if department not in responsible:
        raise _not_responsible(
            f"department {department} is not responsible for {indicator.code}; "
            f"responsible: {', '.join(responsible)}"
        )
    return department


def _takes_reports(indicator: Indicator) -> None:
    if indicator.live_source is not None:
        raise ProblemError(
            409,
            f"indicator {indicator.code} is live: its value comes from {indicator.live_source} "
            "events, so it takes no progress reports",
            problem_type="live-indicator",
        )


async def _check(
    session: AsyncSession, indicator: Indicator, data: ReportCreate, as_of: date, today: date
) -> None:
    if as_of > today:
        raise _invalid(f"as_of {as_of} is in the future; report progress as of today or earlier")
    if indicator.kind is IndicatorKind.MILESTONE:
        if data.value is not None:
            raise _invalid("a milestone indicator takes done and milestones_done, not value")
        if data.done is None and not data.milestones_done:
            raise _invalid("give done (true/false) or the milestones_done so far")
        known = {
            m.code
            for m in (await indicators.milestones_of(session, [indicator.id])).get(indicator.id, [])
        }
        unknown = sorted(set(data.milestones_done) - known)
        if unknown:
            raise _invalid(
                f"unknown milestone code(s) {', '.join(unknown)}; this indicator has "
                f"{', '.join(sorted(known)) or 'no sub-milestones'}"
            )
    else:
        if data.value is None:
            raise _invalid(f"a {indicator.kind.value} indicator needs a value ({indicator.unit})")
        if data.done is not None or data.milestones_done:
            raise _invalid("done and milestones_done are for milestone indicators only")


async def report_progress(
    session: AsyncSession,
    indicator_id: uuid.UUID,
    data: ReportCreate,
    *,
    reporter: Principal,
    settings: Settings,
    today: date | None = None,
) -> ProgressReport:
    """Record a report (or a correction) for the reporter's department, which must be
    responsible for the indicator; publish progress_reported and any status change."""
    today = today or today_in_china()
    indicator = await indicators.get_indicator(session, indicator_id)
    _takes_reports(indicator)
    department = reporting_department(indicator, reporter)
    as_of = data.as_of or today
    await _check(session, indicator, data, as_of, today)
    if data.supersedes is not None:
        replaced = await session.scalar(
            select(ProgressReport).where(ProgressReport.id == data.supersedes)
        )
        if replaced is None or replaced.indicator_id != indicator.id:
            raise _invalid(
                f"supersedes: report {data.supersedes} is not a report of this indicator"
            )
        # A department corrects its own statements, not a co-organiser's.
        if replaced.department != department:
            raise _not_responsible(
                f"report {replaced.id} was filed by {replaced.department}; only that "
                "department can correct it"
            )
        already = await session.scalar(
            select(ProgressReport.id).where(ProgressReport.supersedes_id == replaced.id)
        )
        if already is not None:
            raise ProblemError(
                409,
                f"report {replaced.id} was already corrected by {already}; correct that one",
                problem_type="already-superseded",
            )
    plan = await indicators.get_plan(session, indicator.plan_id)
    report = ProgressReport(
        id=uuid.uuid4(),
        indicator_id=indicator.id,
        value=data.value,
        done=data.done,
        milestones_done=list(dict.fromkeys(data.milestones_done)),
        as_of=as_of,
        note=data.note,
        evidence=[str(url) for url in data.evidence],
        department=department,
        reported_by=reporter.subject,
        supersedes_id=data.supersedes,
        state=ReportState.SUBMITTED if plan.requires_approval else ReportState.RECORDED,
    )
    session.add(report)
    await session.flush()
    await session.refresh(report)
    await _published(session, settings, indicator, report)
    if report.state is ReportState.RECORDED:
        await indicators.refresh_status(session, indicator, today, settings)
    return report


async def _published(
    session: AsyncSession, settings: Settings, indicator: Indicator, report: ProgressReport
) -> None:
    await events.publish(
        session,
        settings,
        indicator,
        events.PROGRESS_REPORTED,
        events.progress_reported(
            indicator,
            report_id=report.id,
            department_id=report.department,
            as_of=report.as_of,
            value=report.value,
            done=report.done,
            state=report.state.value,
            supersedes_report_id=report.supersedes_id,
        ),
    )


async def review_report(
    session: AsyncSession,
    report_id: uuid.UUID,
    data: ReportReview,
    *,
    reviewer: Principal,
    approve: bool,
    settings: Settings,
    today: date | None = None,
) -> ProgressReport:
    """The planning office approves a submitted report (it then counts) or returns it."""
    today = today or today_in_china()
    report = await session.scalar(
        select(ProgressReport).where(ProgressReport.id == report_id).with_for_update()
    )
    if report is None:
        raise NotFoundError("report", report_id)
    if report.state is not ReportState.SUBMITTED:
        raise ProblemError(
            409,
            f"report {report.id} is {report.state.value}; only submitted reports are reviewed",
            problem_type="not-submitted",
        )
    report.state = ReportState.APPROVED if approve else ReportState.RETURNED
    report.reviewed_by = reviewer.subject
    report.review_note = data.note
    report.reviewed_at = datetime.now(UTC)
    await session.flush()
    indicator = await indicators.get_indicator(session, report.indicator_id)
    await _published(session, settings, indicator, report)
    if approve:
        await indicators.refresh_status(session, indicator, today, settings)
    return report


async def history(session: AsyncSession, indicator_id: uuid.UUID) -> Sequence[ProgressReport]:
    """Every report of the indicator, newest first, corrections and returned ones included."""
    return (
        await session.scalars(
            select(ProgressReport)
            .where(ProgressReport.indicator_id == indicator_id)
            .order_by(ProgressReport.created_at.desc(), ProgressReport.id)
        )
    ).all()


# --- the sweep: statuses that change with time, and reminders ----------------------------


@dataclass(frozen=True)
class SweepResult:
    status_changes: int
    reminders: int


async def sweep(session: AsyncSession, settings: Settings, today: date) -> SweepResult:
    """Recompute every open indicator's status (time alone moves it, e.g. to overdue) and
    remind lead departments that have not reported for ``report_reminder_days``."""
    rows = (
        await session.scalars(
            select(Indicator)
            .where(Indicator.status != IndicatorStatus.ACHIEVED)
            .order_by(Indicator.plan_id, Indicator.position)
            .with_for_update(skip_locked=True)
        )
    ).all()
    last_reports = dict(
        (
            await session.execute(
                select(ProgressReport.indicator_id, func.max(ProgressReport.as_of)).group_by(
                    ProgressReport.indicator_id
                )
            )
        ).all()
    )
    changes = reminders = 0
    threshold = settings.report_reminder_days
    for indicator in rows:
        before = indicator.status
        evaluation = await indicators.refresh_status(session, indicator, today, settings)
        changes += evaluation.result.status != before
        if (
            indicator.live_source is not None
            or indicator.lead_department is None
            or indicator.status is IndicatorStatus.ACHIEVED
            or not (indicator.period_start <= today <= indicator.period_end)
        ):
            continue
        last = last_reports.get(indicator.id)
        days = (today - (last or indicator.period_start)).days
        recently_reminded = (
            indicator.last_reminded_on is not None
            and (today - indicator.last_reminded_on).days < threshold
        )
        if days < threshold or recently_reminded:
            continue
        indicator.last_reminded_on = today
        await events.publish(
            session,
            settings,
            indicator,
            events.REPORT_OVERDUE,
            events.report_overdue(
                indicator,
                department=indicator.lead_department,
                last_reported_on=last,
                days=days,
                threshold_days=threshold,
            ),
        )
        reminders += 1
    await session.flush()
    return SweepResult(changes, reminders)
