"""What the calendar API accepts and returns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from petitions_api.deadlines.calendar.sources import CalendarSource


class CalendarYearRead(BaseModel):
    year: int
    source: CalendarSource = Field(
        description="official (entered from the State Council's notice), library "
        "(chinesecalendar knows the year) or provisional (only the rest days fixed by law)"
    )
    holidays: list[date] = Field(description="weekdays that are rest days")
    make_up_workdays: list[date] = Field(description="Saturdays and Sundays that are working days")
    notice: str | None = Field(description="the notice an official schedule was entered from")
    version: int = Field(description="official versions entered so far (0: none); the ETag")
    updated_at: datetime | None
    updated_by: str | None
    statutory_rest_days: list[date] = Field(
        description="every day the law names as a rest day this year, weekends included"
    )


class CalendarYearWrite(BaseModel):
    """A year's schedule as the State Council's notice gives it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "holidays": ["2027-01-01", "2027-02-05", "2027-02-08"],
                    "make_up_workdays": ["2027-02-20"],
                    "notice": "国务院办公厅关于2027年部分节假日安排的通知（国办发明电〔2026〕X号）",
                }
            ]
        },
    )

    holidays: list[date] = Field(description="every weekday that is a rest day", max_length=60)
    make_up_workdays: list[date] = Field(
        description="every Saturday or Sunday that is a working day (调休)", max_length=30
    )
    notice: Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=300)]


class CalendarVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    revision: int
    year: int
    version: int
    source: CalendarSource
    holidays: list[date]
    make_up_workdays: list[date]
    notice: str | None
    origin: str
    entered_by: str
    entered_at: datetime


class CalendarYearSummary(BaseModel):
    year: int
    source: CalendarSource


class CalendarCoverage(BaseModel):
    """How far ahead deadlines rest on a known schedule."""

    today: date
    covered_until: date = Field(
        description="last day of the run of non-provisional years this day lies in (when this "
        "year itself is provisional: the last day before it that was covered)"
    )
    days_left: int = Field(description="days from today to covered_until (negative: past)")
    years: list[CalendarYearSummary]


class CalendarChange(BaseModel):
    """The answer to a PUT: the year as now used, and how many running clocks rest on it."""

    calendar: CalendarYearRead
    changed: bool = Field(description="false when the schedule was already this one")
    clocks_to_recompute: int = Field(
        description="open deadlines that depend on the year; recomputed in the background "
        "within seconds, each moved date with a timeline entry and a deadline_changed event"
    )
