"""Issue 14 on a fresh start of the real process: the calendar answers for a year no library
knows as provisional (the law's rest days), records which source each near year has, and
exports how far the known calendar reaches."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from petitions_api.deadlines.calendar.sources import CalendarSource, fallback_schedule

from .conftest import Suite

pytestmark = pytest.mark.e2e


def _first_provisional_year() -> int:
    year = date.today().year + 1
    while fallback_schedule(year).source is not CalendarSource.PROVISIONAL:
        year += 1
    return year


async def test_a_fresh_start_answers_next_year_as_provisional(suite: Suite) -> None:
    year = _first_provisional_year()
    headers = suite.auth.headers("read_only")
    async with httpx.AsyncClient(base_url=suite.petitions.url, timeout=10) as http:
        answer = (await http.get(f"/v1/calendar/{year}", headers=headers)).json()
        assert answer["source"] == "provisional"
        assert answer["make_up_workdays"] == []
        assert len(answer["statutory_rest_days"]) == 13
        if year == 2027:  # Spring Festival 2027 as the law fixes it: 除夕 and 初一–初三
            assert {"2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"} <= set(
                answer["statutory_rest_days"]
            )
        # The start-up recorded the source it uses for the year (a later notice supersedes it).
        versions = (await http.get(f"/v1/calendar/{year}/versions", headers=headers)).json()
        assert [(v["source"], v["entered_by"]) for v in versions] == [("provisional", "system")]
        coverage = (await http.get("/v1/calendar", headers=headers)).json()
        assert coverage["covered_until"] == f"{year - 1}-12-31"
        metrics = (await http.get("/metrics")).text
    assert 'calendar_covered_until_timestamp_seconds{service="petitions-api"}' in metrics
