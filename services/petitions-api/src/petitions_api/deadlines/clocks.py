"""Every clock of a case in one table: what starts it, how long it runs, on which days, whether
its end rolls to the next working day, whether it can be extended (by how much, by whom), and
which parts are the city's configuration rather than law.

Intake, the lifecycle's actions, reopening, the recompute job and the sweep all take their
rules from here (:func:`clock_rules`); ``docs``-level tables (the petitions README) are this
table in words. Articles are those of 《信访工作条例》 (2022) unless another act is named.

Periods counted in calendar days do not count their first day and, when their last day is a
rest day, end on the next working day (《民法典》第二百零一条、第二百零三条). Periods counted in
working days end on a working day by construction. Hours run on the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from gov_common.events.petitions import CaseKind, DeadlineKind
from petitions_api.config import Settings
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.days import china_date, end_of_day


class DayCount(StrEnum):
    CALENDAR_DAYS = "calendar_days"  # 日: calendar days, the end rolled past rest days
    WORKING_DAYS = "working_days"  # 工作日, on the official calendar with 调休
    HOURS = "hours"  # 小时, on the clock
    FIXED = "fixed"  # a date a person set (督办's due date)


@dataclass(frozen=True)
class Extension:
    """How a clock may be extended (延期)."""

    max_amount: int
    day_count: DayCount
    once: bool
    approver: str  # who approves, in the rule's words
    basis: str


@dataclass(frozen=True)
class ClockRule:
    kind: DeadlineKind
    name: str  # the clock's Chinese name
    applies_to: CaseKind | None  # None: both kinds
    starts: str  # the event that starts it, and the day counted from
    met_by: str
    length: int | None  # None: from the case's hotline tier, or a date a person sets
    day_count: DayCount | None  # None: from the tier (hours or working days)
    rolls_forward: bool
    extension: Extension | None
    basis: str
    configurable: tuple[str, ...] = ()  # settings that change it


@dataclass(frozen=True)
class WindowRule:
    """A period within which the petitioner may ask for something (not a clock the service
    runs against a unit, but checked the same way)."""

    name: str
    starts: str
    length: int
    day_count: DayCount
    rolls_forward: bool
    basis: str


REVIEW_REQUEST_WINDOW = WindowRule(
    name="复查/复核申请期限",
    starts="the day the petitioner received the written reply (答复意见 / 复查意见送达之日)",
    length=30,
    day_count=DayCount.CALENDAR_DAYS,
    rolls_forward=True,
    basis="第三十五条、第三十六条: 自收到书面答复之日起30日内",
)


def clock_rules(settings: Settings) -> tuple[ClockRule, ...]:
    """The table. Hotline rules carry the city's configuration from ``settings``."""
    hotline_extension = (
        Extension(
            max_amount=settings.hotline_extension_max_working_days,
            day_count=DayCount.WORKING_DAYS,
            once=True,
            approver="the 12345 centre's supervisor (督办) on the unit's request",
            basis="the city's 12345 rules (PETITIONS_HOTLINE_EXTENSION_MAX_WORKING_DAYS)",
        )
        if settings.hotline_extension_max_working_days > 0
        else None
    )
    return (
        ClockRule(
            kind=DeadlineKind.FORWARDING,
            name="转送交办期限",
            applies_to=CaseKind.PETITION_CASE,
            starts="registration (登记); counted from the day the letter or visit was received",
            met_by="dispatch (转送/交办) to the organ with authority, or decline",
            length=15,
            day_count=DayCount.CALENDAR_DAYS,
            rolls_forward=True,
            extension=None,
            basis="第二十二条: 信访部门收到信访事项, 应当予以登记, 并在15日内转送、交办",
        ),
        ClockRule(
            kind=DeadlineKind.ACCEPTANCE,
            name="受理告知期限",
            applies_to=CaseKind.PETITION_CASE,
            starts="dispatch (转送/交办) to the organ; counted from the day it received the case",
            met_by="accept or decline with the written notice (书面告知), on the notice's day",
            length=15,
            day_count=DayCount.CALENDAR_DAYS,
            rolls_forward=True,
            extension=None,
            basis="第二十二条 et seq.: 有权处理的机关、单位收到之日起15日内决定是否受理并书面告知",
        ),
        ClockRule(
            kind=DeadlineKind.HANDLING,
            name="办理期限",
            applies_to=CaseKind.PETITION_CASE,
            starts="acceptance (or reopening after a dissatisfied rating); from that day",
            met_by="reply",
            length=60,
            day_count=DayCount.CALENDAR_DAYS,
            rolls_forward=True,
            extension=Extension(
                max_amount=30,
                day_count=DayCount.CALENDAR_DAYS,
                once=True,
                approver="the head of the handling organ or unit (本机关、单位负责人)",
                basis="第三十四条: 60日内办结; 经负责人批准可延长, 延长不得超过30日, 告知信访人",
            ),
            basis="第三十四条",
        ),
        ClockRule(
            kind=DeadlineKind.RETURN,
            name="退回异议期限",
            applies_to=CaseKind.PETITION_CASE,
            starts="dispatch (转送/交办) to a unit; from that day",
            met_by="take (签收) or return (退回)",
            length=5,
            day_count=DayCount.WORKING_DAYS,
            rolls_forward=False,
            extension=None,
            basis="第四章: 认为不属于本机关职权范围的, 自收到之日起5个工作日内提出异议",
        ),
        ClockRule(
            kind=DeadlineKind.RETURN,
            name="退单期限",
            applies_to=CaseKind.HOTLINE_TICKET,
            starts="dispatch (派单) to a unit; from that day",
            met_by="take (签收) or return (退单)",
            length=settings.hotline_return_working_days,
            day_count=DayCount.WORKING_DAYS,
            rolls_forward=False,
            extension=None,
            basis="the city's 12345 rules",
            configurable=("PETITIONS_HOTLINE_RETURN_WORKING_DAYS",),
        ),
        ClockRule(
            kind=DeadlineKind.REVIEW,
            name="复查期限",
            applies_to=CaseKind.PETITION_CASE,
            starts="a 复查 request; from the day the request was received",
            met_by="the 复查 opinion (reply)",
            length=30,
            day_count=DayCount.CALENDAR_DAYS,
            rolls_forward=True,
            extension=None,
            basis="第三十五条: 自收到复查请求之日起30日内提出复查意见 (no extension)",
        ),
        ClockRule(
            kind=DeadlineKind.RE_REVIEW,
            name="复核期限",
            applies_to=CaseKind.PETITION_CASE,
            starts="a 复核 request; from the day the request was received",
            met_by="the 复核 opinion (reply)",
            length=30,
            day_count=DayCount.CALENDAR_DAYS,
            rolls_forward=True,
            extension=None,
            basis="第三十六条: 自收到复核请求之日起30日内提出复核意见 (no extension)",
        ),
        ClockRule(
            kind=DeadlineKind.HOTLINE,
            name="12345办理时限",
            applies_to=CaseKind.HOTLINE_TICKET,
            starts="registration (or reopening); from that instant or day",
            met_by="reply",
            length=None,
            day_count=None,
            rolls_forward=False,
            extension=hotline_extension,
            basis="the city's tiers (categories data file: hours or working days per tier)",
            configurable=(
                "hotline tiers (categories data file)",
                "PETITIONS_HOTLINE_EXTENSION_MAX_WORKING_DAYS",
            ),
        ),
        ClockRule(
            kind=DeadlineKind.SUPERVISION,
            name="督办期限",
            applies_to=None,
            starts="supervise (督办); the due date the supervisor sets",
            met_by="the unit's reply, or the case ending",
            length=None,
            day_count=DayCount.FIXED,
            rolls_forward=False,
            extension=None,
            basis="the supervisor's 督办 notice",
        ),
    )


def rule_for(settings: Settings, kind: DeadlineKind, case_kind: CaseKind) -> ClockRule:
    for rule in clock_rules(settings):
        if rule.kind is kind and rule.applies_to in (None, case_kind):
            return rule
    raise LookupError(f"no clock rule {kind.value} for {case_kind.value}")


@dataclass(frozen=True)
class ClockSpec:
    """What a clock is computed from: kept on the clock's row, so that it can be computed
    again when the calendar of a year it depends on changes."""

    kind: DeadlineKind
    started_at: datetime
    starts_on: date
    day_count: DayCount
    length: int
    extension: int = 0


@dataclass(frozen=True)
class Due:
    due_on: date | None
    due_at: datetime
    years: tuple[int, ...]  # calendar years whose days the computation read
    provisional: bool
    revision: int  # the calendar revision it was computed with


def compute(spec: ClockSpec, calendar: WorkingCalendar) -> Due:
    """The due date of a clock on ``calendar``: length and extension from the clock's start."""
    reckoning = calendar.reckoning()
    total = spec.length + spec.extension
    due_on: date | None
    if spec.day_count is DayCount.HOURS:
        return Due(None, spec.started_at + timedelta(hours=total), (), False, calendar.revision)
    if spec.day_count is DayCount.FIXED:
        due_on = spec.starts_on
    elif spec.day_count is DayCount.CALENDAR_DAYS:
        due_on = reckoning.statutory_due_on(spec.starts_on, total)
    else:
        due_on = reckoning.add_working_days(spec.starts_on, total)
    return Due(
        due_on,
        end_of_day(due_on).astimezone(UTC),  # instants in UTC, as the database returns them
        tuple(sorted(reckoning.years)),
        reckoning.provisional,
        calendar.revision,
    )


def spec_for(
    rule: ClockRule,
    *,
    started_at: datetime,
    starts_on: date | None = None,
    tier_hours: int | None = None,
    tier_working_days: int | None = None,
) -> ClockSpec:
    """A new clock under ``rule``: the start day defaults to the start instant's day in China;
    hotline clocks take their length from the case's tier."""
    day = starts_on or china_date(started_at)
    if rule.length is not None and rule.day_count is not None:
        return ClockSpec(rule.kind, started_at, day, rule.day_count, rule.length)
    if rule.day_count is DayCount.FIXED:
        return ClockSpec(rule.kind, started_at, day, DayCount.FIXED, 0)
    if tier_hours is not None:
        return ClockSpec(rule.kind, started_at, day, DayCount.HOURS, tier_hours)
    if tier_working_days is None:
        raise ValueError("a hotline tier has hours or working days")
    return ClockSpec(rule.kind, started_at, day, DayCount.WORKING_DAYS, tier_working_days)
