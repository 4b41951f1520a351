"""The grassroots rollup (grassroots_daily) against the naive aggregate over ``cases``.

Random walks of case changes through the real service functions — intake (some callers and
matters repeat, so intake links repeats), every lifecycle action the state allows with random
units and ratings (close, reopen after a dissatisfied rating and re-rate, escalate, 复查
requests, actions the guards refuse), repeat links and unlinks — on a clock that moves forward
a few hours per step, so cases close on many days. After every step the rollup's rows must
equal the aggregate of the definition over the cases, per closing day and town; at the end the
figure the API computes from the rollup must equal the naive aggregate, total and per town.
The cases live in a database of this module's own.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from gov_common.db import unit_of_work
from gov_common.problems import ProblemError
from gov_common.testing import Infrastructure
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.cases import actions, authority, clock, registration, repeat_links
from petitions_api.cases.lifecycle import FINAL_STATES, Action
from petitions_api.cases.models import Case
from petitions_api.cases.schemas import ACTION_BODIES, CaseCreate
from petitions_api.config import Settings
from petitions_api.deadlines.days import china_date
from petitions_api.metrics import rollup
from petitions_api.metrics import service as metrics
from petitions_api.metrics.definitions import GRASSROOTS
from petitions_api.metrics.periods import Granularity, Period

from .helpers import action_body, app_with_reference_data, hotline, own_database, petition

pytestmark = pytest.mark.integration

# Places in three towns, and none (a case whose place is not in a town: the NULL town row).
PLACES = ["610203001001", "610203001", "610203100001", "610203100", "610203002", None]
# Handling units: town, village, a district department, the district itself.
UNITS = ["610203001", "610203100001", "610203100", "610203002", "D-ZJJ", "610203"]
PHONES = [f"1371000{n:04d}" for n in range(6)]  # few callers: intake detects repeats
MATTERS = ["小区供暖不热", "村道塌陷", "拖欠工资"]
RATINGS = ["satisfied", "basically_satisfied", "dissatisfied", "dissatisfied"]
# How often each action is tried when the state allows it: mostly towards closing.
WEIGHTS = {
    Action.SUPERVISE: 0,  # keeps the state and the figure's fields
    Action.EXTEND: 1,
    Action.RETURN: 1,
    Action.DECLINE: 1,
    Action.ESCALATE: 1,
    Action.REQUEST_REVIEW: 1,
    Action.REOPEN: 10,  # allowed after a dissatisfied rating only: tried often
    Action.RATE: 15,  # before close (which needs no rating), so some cases count as resolved
}

START = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)

NAIVE_BY_DAY_AND_TOWN = """
SELECT closed_on, town_unit_id,
       count(*) FILTER (WHERE effective AND grassroots) AS numerator, count(*) AS denominator
FROM cases
WHERE kind = 'petition_case' AND status = 'closed' AND review_stage = 'original' AND first_time
GROUP BY closed_on, town_unit_id
"""


@pytest.fixture(scope="module")
async def rollup_settings(
    infrastructure: Infrastructure, auth: SessionAuth
) -> AsyncIterator[Settings]:
    async with own_database(infrastructure, auth, "petitions_rollup") as settings:
        yield settings


@pytest.fixture(scope="module")
async def rollup_app(rollup_settings: Settings) -> AsyncIterator[FastAPI]:
    async with app_with_reference_data(rollup_settings) as application:
        yield application


Rows = dict[tuple[date, str | None], tuple[int, int]]


async def _rollup_rows(app: FastAPI) -> Rows:
    async with unit_of_work(app.state.sessions) as session:
        table = rollup.grassroots_daily
        found = (await session.execute(select(table))).all()
    # Rows moved back to 0 of 0 stay in the table; they count nothing.
    return {
        (r.closed_on, r.town_unit_id): (r.numerator, r.denominator) for r in found if r.denominator
    }


async def _naive_rows(app: FastAPI) -> Rows:
    async with unit_of_work(app.state.sessions) as session:
        found = (await session.execute(text(NAIVE_BY_DAY_AND_TOWN))).all()
    return {(r.closed_on, r.town_unit_id): (r.numerator, r.denominator) for r in found}


class Walk:
    """One random sequence of case changes through the service, on a simulated clock."""

    def __init__(self, app: FastAPI, settings: Settings, seed: int) -> None:
        self.app, self.settings, self.rng = app, settings, random.Random(seed)
        # A fixed start, so that the walk (and which actions its guards refuse) does not
        # depend on the day the test runs; a year whose official calendar is known.
        self.now = START
        self.ids: list[uuid.UUID] = []
        self.log: list[str] = []
        self.done: Counter[str] = Counter()  # the changes that went through

    def clock(self) -> datetime:
        return self.now

    async def step(self) -> None:
        self.now += timedelta(hours=self.rng.randrange(1, 30))
        roll = self.rng.random()
        try:
            async with unit_of_work(self.app.state.sessions) as session:
                if not self.ids or roll < 0.1:
                    await self._intake(session)
                elif roll < 0.16:
                    await self._repeat_link(session)
                else:
                    await self._act(session)
        except ProblemError as exc:  # refused: the transaction rolled back, rollup included
            self.log.append(f"  refused: {exc.detail}")

    async def _intake(self, session: Any) -> None:
        place = self.rng.choice(PLACES)
        changes: dict[str, Any] = {
            "place": {"unit_id": place} if place else None,
            "received_on": china_date(self.now).isoformat(),
        }
        if self.rng.random() < 0.85:
            matter = self.rng.choice(MATTERS)
            body = petition(
                subject=f"信访事项：{matter}",
                description=f"关于{matter}的信访，请求依法处理。",
                petitioner={"name": "张三", "phone": self.rng.choice(PHONES)},
                **changes,
            )
        else:
            body = hotline(**changes)
        case = await registration.register_case(
            session, CaseCreate.model_validate(body), settings=self.settings, actor="op"
        )
        self.ids.append(case.id)
        self.log.append(f"intake {case.id} {body['kind']} place={place}")

    async def _repeat_link(self, session: Any) -> None:
        index = self.rng.randrange(len(self.ids))
        case = await session.get(Case, self.ids[index])
        if case.repeat_of is not None and self.rng.random() < 0.6:
            self.log.append(f"unlink {case.id} ({case.status})")
            await repeat_links.unlink_repeat(
                session, case.id, actor="op", if_match=None, note=None, settings=self.settings
            )
            self.done["unlink"] += 1
        elif index > 0:
            earlier = self.ids[self.rng.randrange(index)]
            self.log.append(f"link {case.id} ({case.status}) → {earlier}")
            await repeat_links.link_repeat(
                session,
                case.id,
                earlier,
                actor="op",
                if_match=None,
                note=None,
                settings=self.settings,
            )
            self.done["link"] += 1

    async def _act(self, session: Any) -> None:
        # Mostly open cases, so that many get as far as closing (and some back again).
        open_ = (
            await session.scalars(
                select(Case.id)
                .where(Case.id.in_(self.ids), Case.status.not_in(FINAL_STATES))
                .order_by(Case.created_at)
            )
        ).all()
        case_id = self.rng.choice(open_ if open_ and self.rng.random() < 0.75 else self.ids)
        case = await session.get(Case, case_id)
        pending = (await authority.pending_requests(session, [case])).get(case.id)
        allowed = authority.allowed_for(
            case, roles=None, acts_here=True, pending=pending.kind if pending else None
        )
        if not allowed:
            return
        action = self.rng.choices(allowed, [WEIGHTS.get(a, 5) for a in allowed])[0]
        body = self._body(action)
        self.log.append(f"{action.value} {case_id} ({case.status}) {body}")
        _, review = await actions.perform(
            session,
            case_id,
            action,
            ACTION_BODIES[action].model_validate(body),
            actor="op",
            if_match=None,
            settings=self.settings,
        )
        if review is not None:  # a 复查 case: it closes too, and must not count
            self.ids.append(review.id)
        self.done[action.value] += 1

    def _body(self, action: Action) -> dict[str, Any]:
        if action in (Action.DISPATCH, Action.APPROVE_RETURN):
            return {"to_unit_id": self.rng.choice(UNITS)}
        if action is Action.RATE:
            return {"rating": self.rng.choice(RATINGS)}
        return action_body(action.value)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_rollup_equals_the_naive_aggregate_after_random_case_changes(
    rollup_app: FastAPI,
    rollup_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    walk = Walk(rollup_app, rollup_settings, seed)
    monkeypatch.setattr(clock, "now", walk.clock)
    for number in range(250):
        await walk.step()
        rolled, naive = await _rollup_rows(rollup_app), await _naive_rows(rollup_app)
        assert rolled == naive, f"seed {seed}, step {number}:\n" + "\n".join(walk.log[-8:])

    # The walk did what it is for: cases closed on several days, in more than one town, some
    # counted in the numerator; some reopened, some linked as repeats.
    naive = await _naive_rows(rollup_app)
    assert len({day for day, _ in naive}) > 3 and len({town for _, town in naive}) > 1
    assert sum(n for n, _ in naive.values()) > 0
    assert walk.done["close"] > 5 and walk.done["reopen"] > 0 and walk.done["link"] > 0

    # The figure served (from the rollup) is the naive aggregate, total and per town.
    period = Period("walk", Granularity.RANGE, date(2000, 1, 1), date(2100, 12, 31))
    query = metrics.Query(definition=GRASSROOTS, period=period, kind=GRASSROOTS.default_kind)
    assert metrics.from_rollup(query)
    async with unit_of_work(rollup_app.state.sessions) as session:
        result = await metrics.compute(session, query, settings=rollup_settings)
    per_town: dict[str | None, tuple[int, int]] = {}
    for (_, town), (n, d) in naive.items():
        was = per_town.get(town, (0, 0))
        per_town[town] = (was[0] + n, was[1] + d)
    assert result.towns is not None
    served = {t.town_unit_id: (t.counts.numerator, t.counts.denominator) for t in result.towns}
    assert {k: v for k, v in served.items() if v[1]} == per_town
    assert (result.counts.numerator, result.counts.denominator) == (
        sum(n for n, _ in per_town.values()),
        sum(d for _, d in per_town.values()),
    )


async def test_rebuild_recounts_what_sql_wrote_behind_the_service(
    rollup_app: FastAPI, rollup_settings: Settings
) -> None:
    walk = Walk(rollup_app, rollup_settings, 99)
    for _ in range(40):
        await walk.step()
    async with unit_of_work(rollup_app.state.sessions) as session:
        await session.execute(text("UPDATE cases SET closed_on = closed_on - 400"))
    assert await _rollup_rows(rollup_app) != await _naive_rows(rollup_app)
    async with unit_of_work(rollup_app.state.sessions) as session:
        await rollup.rebuild(session)
    assert await _rollup_rows(rollup_app) == await _naive_rows(rollup_app)


async def test_concurrent_closes_and_reopens_of_one_town_and_day_all_count(
    rollup_app: FastAPI, rollup_settings: Settings
) -> None:
    """Many transactions move the same (day, town) row at once: each delta is applied once."""
    sessions, settings = rollup_app.state.sessions, rollup_settings

    async def perform(case_id: uuid.UUID, action: str, body: dict[str, Any]) -> None:
        async with unit_of_work(sessions) as session:
            await actions.perform(
                session,
                case_id,
                Action(action),
                ACTION_BODIES[Action(action)].model_validate(body),
                actor="op",
                if_match=None,
                settings=settings,
            )

    ids = []
    for number in range(12):
        async with unit_of_work(sessions) as session:
            body = petition(place={"unit_id": "610203100001"}, subject=f"并发测试 {number}")
            case = await registration.register_case(
                session, CaseCreate.model_validate(body), settings=settings, actor="op"
            )
            ids.append(case.id)
        steps = [("dispatch", {"to_unit_id": "610203100"}), ("accept", action_body("accept"))]
        steps += [("reply", action_body("reply"))]
        steps += [("rate", {"rating": "satisfied" if number % 2 else "dissatisfied"})]
        for action, body in steps:
            await perform(case.id, action, body)
    await asyncio.gather(*(perform(case_id, "close", {}) for case_id in ids))
    assert await _rollup_rows(rollup_app) == await _naive_rows(rollup_app)
    dissatisfied = ids[::2]
    await asyncio.gather(*(perform(c, "reopen", action_body("reopen")) for c in dissatisfied))
    assert await _rollup_rows(rollup_app) == await _naive_rows(rollup_app)
