"""Status of an indicator: a pure function of its kind, values, dates and the thresholds.

Two families of target behave differently over a year:
- cumulative targets (at least, exact: 1500 jobs, 300 beds) grow towards the target, so the
  value is compared with the *expected-by-now* value, baseline + (target − baseline) × the
  share of the period elapsed, and the target is achieved the day it is reached;
- level targets (a rate ≥ 80%, unemployment ≤ 4%) must hold at the target level; they are
  compared with the target itself and are achieved only when the period is over.
Milestones are done or not; a past-due sub-milestone puts the indicator off track.
The due date (or the period's last day) is included: only the day after it is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from targets_api.indicators.models import IndicatorKind, IndicatorStatus


@dataclass(frozen=True)
class Thresholds:
    on_track_ratio: Decimal = Decimal("0.9")
    at_risk_ratio: Decimal = Decimal("0.7")
    level_tolerance: Decimal = Decimal("0.1")


@dataclass(frozen=True)
class SubMilestone:
    code: str
    due_date: date | None
    done: bool


@dataclass(frozen=True)
class StatusInput:
    kind: IndicatorKind
    period_start: date
    period_end: date
    due_date: date | None = None
    baseline: Decimal | None = None
    target: Decimal | None = None
    value: Decimal | None = None  # the latest counted report's value (or the live value)
    done: bool | None = None  # milestone indicators
    milestones: tuple[SubMilestone, ...] = ()
    reported: bool = False  # any counted report (or live figure) exists


@dataclass(frozen=True)
class StatusResult:
    status: IndicatorStatus
    expected_by_now: Decimal | None
    elapsed_share: Decimal


def elapsed_share(start: date, end: date, today: date) -> Decimal:
    """Share of the period elapsed, counting today as elapsed: 1 on the period's last day."""
    if today < start:
        return Decimal(0)
    days = (end - start).days + 1
    if days <= 0:
        return Decimal(1)
    return min(Decimal(1), Decimal((today - start).days + 1) / Decimal(days))


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


def compute_status(data: StatusInput, today: date, thresholds: Thresholds) -> StatusResult:
    due = data.due_date or data.period_end
    share = elapsed_share(data.period_start, due, today)
    past_due = today > due
    period_over = today > data.period_end

    if data.kind is IndicatorKind.MILESTONE:
        return StatusResult(_milestone_status(data, today, past_due), None, _q(share))

    target = data.target
    if target is None:  # nothing to measure against: only whether anyone reported
        status = IndicatorStatus.ON_TRACK if data.reported else IndicatorStatus.NOT_STARTED
        return StatusResult(status, None, _q(share))

    baseline = data.baseline or Decimal(0)
    if data.kind in (IndicatorKind.AT_MOST, IndicatorKind.PERCENTAGE):
        expected = target
    else:
        expected = baseline + (target - baseline) * share
    value = data.value
    if value is None:
        status = IndicatorStatus.OVERDUE if past_due else IndicatorStatus.NOT_STARTED
        return StatusResult(status, _q(expected), _q(share))

    if data.kind is IndicatorKind.AT_MOST:
        status = _level(
            value <= target,
            value <= target * (1 + thresholds.level_tolerance),
            period_over or past_due,
        )
    elif data.kind is IndicatorKind.PERCENTAGE:
        status = _level(
            value >= target,
            value >= target * (1 - thresholds.level_tolerance),
            period_over or past_due,
        )
    elif data.kind is IndicatorKind.EXACT and value > target:
        status = IndicatorStatus.OVERDUE if past_due else IndicatorStatus.OFF_TRACK
    elif value >= target:  # at least, or exact and equal
        status = IndicatorStatus.ACHIEVED
    elif past_due:
        status = IndicatorStatus.OVERDUE
    else:
        status = _cumulative(value, baseline, expected, thresholds)
    return StatusResult(status, _q(expected), _q(share))


def _level(holds: bool, near: bool, over: bool) -> IndicatorStatus:
    if over:
        return IndicatorStatus.ACHIEVED if holds else IndicatorStatus.OVERDUE
    if holds:
        return IndicatorStatus.ON_TRACK
    return IndicatorStatus.AT_RISK if near else IndicatorStatus.OFF_TRACK


def _cumulative(
    value: Decimal, baseline: Decimal, expected: Decimal, thresholds: Thresholds
) -> IndicatorStatus:
    way = expected - baseline
    if way <= 0:
        return IndicatorStatus.ON_TRACK
    progress = (value - baseline) / way
    if progress >= thresholds.on_track_ratio:
        return IndicatorStatus.ON_TRACK
    if progress >= thresholds.at_risk_ratio:
        return IndicatorStatus.AT_RISK
    return IndicatorStatus.OFF_TRACK


def _milestone_status(data: StatusInput, today: date, past_due: bool) -> IndicatorStatus:
    subs = data.milestones
    if data.done or (subs and all(m.done for m in subs)):
        return IndicatorStatus.ACHIEVED
    if past_due:
        return IndicatorStatus.OVERDUE
    if any(m.due_date is not None and today > m.due_date and not m.done for m in subs):
        return IndicatorStatus.OFF_TRACK
    if not data.reported:
        return IndicatorStatus.NOT_STARTED
    return IndicatorStatus.ON_TRACK
