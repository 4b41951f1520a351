"""Reading and entering the calendar: validation, versions, the data file, the library's
years, coverage. No HTTP; the caller's unit of work commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import structlog
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.clock import today_in_china
from gov_common.metrics import CALENDAR_COVERED_UNTIL, service_name
from gov_common.problems import ProblemError
from petitions_api.config import Settings
from petitions_api.deadlines.calendar.cache import read_calendar
from petitions_api.deadlines.calendar.models import CalendarVersion
from petitions_api.deadlines.calendar.schemas import CalendarYearRead, CalendarYearWrite
from petitions_api.deadlines.calendar.sources import (
    FIRST_YEAR,
    LAST_YEAR,
    CalendarSource,
    YearSchedule,
    fallback_schedule,
    library_version,
    statutory_rest_days,
)
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.days import end_of_day

log = structlog.get_logger(__name__)

# Years ahead whose source is recorded at start-up (a clock rarely reaches further).
YEARS_AHEAD = 2


def check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ProblemError(
            404,
            f"year {year}: the calendar answers for {FIRST_YEAR} to {LAST_YEAR}",
            problem_type="not-found",
        )


async def versions(session: AsyncSession, year: int) -> list[CalendarVersion]:
    rows = await session.scalars(
        select(CalendarVersion)
        .where(CalendarVersion.year == year)
        .order_by(CalendarVersion.revision)
    )
    return list(rows.all())


def _latest(rows: list[CalendarVersion], source: CalendarSource | None = None) -> CalendarVersion:
    found = [r for r in rows if source is None or r.source is source]
    return found[-1]


def year_view(
    year: int, calendar: WorkingCalendar, rows: list[CalendarVersion]
) -> CalendarYearRead:
    """The year as deadlines use it, with who entered it when it is official."""
    schedule = calendar.schedule(year)
    official = [r for r in rows if r.source is CalendarSource.OFFICIAL]
    shown = _latest(official) if schedule.source is CalendarSource.OFFICIAL and official else None
    if shown is None and rows:
        latest = _latest(rows)
        shown = latest if latest.source is schedule.source else None
    return CalendarYearRead(
        year=year,
        source=schedule.source,
        holidays=sorted(schedule.holidays),
        make_up_workdays=sorted(schedule.make_up_workdays),
        notice=shown.notice if shown else None,
        version=len(official),
        updated_at=shown.entered_at if shown else None,
        updated_by=shown.entered_by if shown else None,
        statutory_rest_days=sorted(statutory_rest_days(year)),
    )


def etag(view: CalendarYearRead) -> str:
    return f'"{view.year}-v{view.version}"'


def _invalid(problems: list[tuple[str, str]]) -> ProblemError:
    return ProblemError(
        422,
        "; ".join(f"{name}: {reason}" for name, reason in problems),
        problem_type="validation-error",
        extra={"invalid_params": [{"name": n, "reason": r} for n, r in problems]},
    )


def validate_schedule(year: int, body: CalendarYearWrite) -> YearSchedule:
    """Refuse, naming each date, what cannot be a year's schedule."""
    problems: list[tuple[str, str]] = []
    for field, days in (("holidays", body.holidays), ("make_up_workdays", body.make_up_workdays)):
        for day in sorted(set(days)):
            if day.year != year:
                problems.append((field, f"{day} is not in {year}"))
    for day in sorted(set(body.holidays)):
        if day.year == year and day.weekday() >= 5:
            problems.append(
                ("holidays", f"{day} is a {day:%A}: weekends are rest days anyway; list weekdays")
            )
    for day in sorted(set(body.make_up_workdays)):
        if day.year == year and day.weekday() < 5:
            problems.append(
                (
                    "make_up_workdays",
                    f"{day} is a {day:%A}: a make-up working day is a Saturday or Sunday",
                )
            )
    for day in sorted(set(body.holidays) & set(body.make_up_workdays)):
        problems.append(("make_up_workdays", f"{day} is also listed as a holiday"))
    if problems:
        raise _invalid(problems)
    return YearSchedule(
        year,
        CalendarSource.OFFICIAL,
        frozenset(body.holidays),
        frozenset(body.make_up_workdays),
    )


@dataclass(frozen=True)
class Entered:
    version: CalendarVersion | None  # None: the schedule was already this one
    calendar: WorkingCalendar  # the calendar after the change


async def enter_schedule(
    session: AsyncSession,
    year: int,
    schedule: YearSchedule,
    *,
    notice: str,
    origin: str,
    entered_by: str,
) -> Entered:
    """Record ``schedule`` as the official one of ``year`` (a new version), unless it already
    is. The year's rows are locked first, so two entries of one year are serialised."""
    rows = list(
        (
            await session.scalars(
                select(CalendarVersion)
                .where(CalendarVersion.year == year)
                .order_by(CalendarVersion.revision)
                .with_for_update()
            )
        ).all()
    )
    official = [r for r in rows if r.source is CalendarSource.OFFICIAL]
    if official:
        latest = official[-1]
        if (
            frozenset(latest.holidays) == schedule.holidays
            and frozenset(latest.make_up_workdays) == schedule.make_up_workdays
            and latest.notice == notice
        ):
            return Entered(None, await read_calendar(session))
    version = CalendarVersion(
        year=year,
        version=(rows[-1].version + 1) if rows else 1,
        source=CalendarSource.OFFICIAL,
        holidays=sorted(schedule.holidays),
        make_up_workdays=sorted(schedule.make_up_workdays),
        notice=notice,
        origin=origin,
        entered_by=entered_by,
    )
    session.add(version)
    await session.flush()
    await session.refresh(version)
    log.info("calendar.entered", year=year, version=version.version, origin=origin)
    return Entered(version, await read_calendar(session))


async def record_fallback_sources(session: AsyncSession, today: date) -> list[CalendarVersion]:
    """Record which source the service uses for each year from last year to ``YEARS_AHEAD``
    ahead, when it differs from what was recorded (first start, or a library release that
    knows a year it did not): the new version makes the clocks resting on that year be
    computed again. Official years are left alone."""
    recorded: list[CalendarVersion] = []
    for year in range(today.year - 1, today.year + YEARS_AHEAD + 1):
        rows = await versions(session, year)
        if any(r.source is CalendarSource.OFFICIAL for r in rows):
            continue
        schedule = fallback_schedule(year)
        if rows and (
            rows[-1].source is schedule.source
            and frozenset(rows[-1].holidays) == schedule.holidays
            and frozenset(rows[-1].make_up_workdays) == schedule.make_up_workdays
        ):
            continue
        origin = (
            library_version()
            if schedule.source is CalendarSource.LIBRARY
            else "statutory rest days (holidays package, 《全国年节及纪念日放假办法》)"
        )
        version = CalendarVersion(
            year=year,
            version=(rows[-1].version + 1) if rows else 1,
            source=schedule.source,
            holidays=sorted(schedule.holidays),
            make_up_workdays=sorted(schedule.make_up_workdays),
            notice=None,
            origin=origin,
            entered_by="system",
        )
        session.add(version)
        recorded.append(version)
    await session.flush()
    return recorded


class ScheduleFileError(ValueError):
    """The deployment's calendar data file is not a list of valid schedules."""


def read_schedule_file(path: Path) -> list[tuple[int, CalendarYearWrite]]:
    """``years: [{year, notice, holidays: [...], make_up_workdays: [...]}]``, validated."""
    try:
        loaded: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ScheduleFileError(f"{path}: {exc}") from exc
    entries = loaded.get("years") or [] if isinstance(loaded, dict) else None
    if entries is None or not isinstance(entries, list):
        raise ScheduleFileError(f"{path}: expected a mapping with a 'years' list")
    found: list[tuple[int, CalendarYearWrite]] = []
    for index, entry in enumerate(entries):
        where = f"{path}: years[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("year"), int):
            raise ScheduleFileError(f"{where}: needs an integer 'year'")
        year = entry["year"]
        try:
            body = CalendarYearWrite.model_validate({k: v for k, v in entry.items() if k != "year"})
            validate_schedule(year, body)
        except ProblemError as exc:
            raise ScheduleFileError(f"{where} ({year}): {exc.detail}") from exc
        except ValueError as exc:
            raise ScheduleFileError(f"{where} ({year}): {exc}") from exc
        found.append((year, body))
    return found


async def load_schedule_file(session: AsyncSession, path: Path) -> list[CalendarVersion]:
    """Enter the file's schedules (idempotent). A year a person entered through the API
    after the file's last load keeps the person's schedule: the file seeds, it does not
    overrule."""
    origin = f"file:{path.name}"
    entered: list[CalendarVersion] = []
    for year, body in read_schedule_file(path):
        official = [r for r in await versions(session, year) if r.source is CalendarSource.OFFICIAL]
        if official and official[-1].origin != origin:
            log.info("calendar.file_year_kept", year=year, kept=official[-1].origin)
            continue
        result = await enter_schedule(
            session,
            year,
            validate_schedule(year, body),
            notice=body.notice,
            origin=origin,
            entered_by="system",
        )
        if result.version is not None:
            entered.append(result.version)
    return entered


async def prepare_calendar(session: AsyncSession, settings: Settings) -> WorkingCalendar:
    """At start-up: load the deployment's schedule file, record each near year's source,
    and say when the known calendar runs out soon (never failing readiness for it)."""
    today = today_in_china()
    if settings.calendar_file is not None and settings.calendar_file.exists():
        loaded = await load_schedule_file(session, settings.calendar_file)
        if loaded:
            log.info("calendar.file_loaded", years=[v.year for v in loaded])
    await record_fallback_sources(session, today)
    calendar = await read_calendar(session)
    covered = calendar.covered_until(today)
    CALENDAR_COVERED_UNTIL.labels(service_name()).set(end_of_day(covered).timestamp())
    days_left = (covered - today).days
    if days_left < settings.calendar_warning_days:
        provisional = [
            y
            for y in range(today.year, today.year + YEARS_AHEAD + 1)
            if calendar.source(y) is CalendarSource.PROVISIONAL
        ]
        log.warning(
            "calendar.coverage_ends_soon",
            covered_until=covered.isoformat(),
            days_left=days_left,
            provisional_years=provisional,
            action="enter the State Council's holiday notice: PUT /v1/calendar/{year} "
            "(docs/runbook.md, 'Each November')",
        )
    return calendar
