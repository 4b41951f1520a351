"""Each metric's definition on a hand-built set of cases whose answers were worked out by hand.

The cases go through the real intake and lifecycle functions (so the denormalised columns are
what the service writes); only their days are then moved into 2025, because the lifecycle
stamps today. They live in a database of this module's own, so no other test's cases count.

The set (place → handling unit; rating; closing day):

  P1  petition, 城关 community → 城关街道 (town), satisfied, closed 2025-08-10
  P2  petition, 陈炉 village → the village, basically satisfied, closed 2025-08-20
  P3  petition, 城关 → 区住建局 (department), satisfied, closed 2025-08-15
  P4  petition, 城关 → 城关街道, dissatisfied, closed 2025-08-25
  P5  petition, 城关 → 城关街道, dissatisfied, closed, then reopened (in progress)
  P6  petition, repeat of P1 (same phone and matter), 城关街道, satisfied, closed 2025-08-12
  P7  petition, 陈炉镇 → 陈炉镇, satisfied, closed 2025-10-01 (the next quarter)
  P8  petition, 三里洞 → 三里洞街道, escalated to the district, satisfied, closed 2025-09-30
  P9  复查 of P4, received 2025-08-20, 城关街道, satisfied, closed 2025-08-28
  P10 petition, declined 2025-07-15
  P11 petition received 2025-07-01, never accepted: acceptance clock past due (backlog)
  P12 petition received today, registered
  H1  ticket received 2025-08-01, satisfied, closed 2025-08-02 (caller with a phone)
  H2  ticket received 2025-08-03, basically satisfied, closed 2025-08-04, replied late
  H3  ticket received 2025-08-05, rated dissatisfied, not closed
  H4  ticket received 2025-08-06, dispatched, never taken
  H5  ticket received 2025-08-07, declined
  H6  ticket received 2025-07-31, dissatisfied, closed 2025-08-01
  H7  ticket received 2025-08-08, replied, closed 2025-08-10 without a call-back
  H8  ticket received 2025-08-09, repeat of H1, accepted
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from gov_common.clock import today_in_china
from gov_common.db import unit_of_work
from gov_common.testing import Infrastructure
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.cases import actions, registration
from petitions_api.cases.lifecycle import Action
from petitions_api.cases.models import Case
from petitions_api.cases.schemas import ACTION_BODIES, CaseCreate
from petitions_api.config import Settings
from petitions_api.metrics import rollup
from petitions_api.metrics import service as metrics
from petitions_api.metrics.definitions import DEFINITIONS
from petitions_api.metrics.periods import parse_period

from .helpers import action_body, app_with_reference_data, hotline, own_database, petition

pytestmark = pytest.mark.integration

CHENGGUAN, CHENGGUAN_COMMUNITY = "610203001", "610203001001"
CHENLU, CHENLU_VILLAGE = "610203100", "610203100001"
SANLIDONG = "610203002"
DISTRICT = "610203"


@pytest.fixture(scope="module")
async def metrics_settings(
    infrastructure: Infrastructure, auth: SessionAuth
) -> AsyncIterator[Settings]:
    async with own_database(infrastructure, auth, "petitions_metrics") as settings:
        yield settings


@pytest.fixture(scope="module")
async def metrics_app(metrics_settings: Settings) -> AsyncIterator[FastAPI]:
    async with app_with_reference_data(metrics_settings) as application:
        yield application


@pytest.fixture
async def metrics_client(
    metrics_app: FastAPI, auth: SessionAuth
) -> AsyncIterator[httpx.AsyncClient]:
    """The planning office: district-wide figures, no personal data."""
    transport = httpx.ASGITransport(metrics_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://petitions", headers=auth.headers("planner")
    ) as http:
        yield http


Step = tuple[str, dict[str, Any]]


def full(unit: str, rating: str, *, ticket: bool = False) -> list[Step]:
    """To closure: a ticket accepted, dispatched and taken; a 信访 case forwarded, then
    accepted by the unit with the written notice (第二十二条)."""
    reaching: list[Step] = (
        [("accept", {}), ("dispatch", {"to_unit_id": unit}), ("take", {})]
        if ticket
        else [("dispatch", {"to_unit_id": unit}), ("accept", action_body("accept"))]
    )
    return [
        *reaching,
        ("reply", action_body("reply")),
        ("rate", {"rating": rating}),
        ("close", {}),
    ]


@pytest.fixture(scope="module")
async def cases_set(metrics_app: FastAPI, metrics_settings: Settings) -> dict[str, uuid.UUID]:
    sessions = metrics_app.state.sessions
    settings = metrics_settings
    ids: dict[str, uuid.UUID] = {}

    async def make(name: str, body: dict[str, Any], steps: list[Step], **days: Any) -> None:
        async with unit_of_work(sessions) as session:
            case = await registration.register_case(
                session, CaseCreate.model_validate(body), settings=settings, actor="op"
            )
            for action, step_body in steps:
                model = ACTION_BODIES[Action(action)]
                case, created = await actions.perform(
                    session,
                    case.id,
                    Action(action),
                    model.model_validate(step_body),
                    actor="op",
                    if_match=None,
                    settings=settings,
                )
                if created is not None:
                    ids[f"{name}:review"] = created.id
            if days:
                await session.execute(update(Case).where(Case.id == case.id).values(**days))
            ids[name] = case.id

    def p(place: str, text: str, **changes: Any) -> dict[str, Any]:
        changes.setdefault("received_on", "2025-07-10")
        return petition(
            subject=f"信访事项：{text}",
            description=f"关于{text}的信访，请求依法处理。",
            place={"unit_id": place},
            **changes,
        )

    d = date.fromisoformat
    p1_petitioner = {"name": "张三", "phone": "13712345678"}
    await make(
        "P1",
        p(CHENGGUAN_COMMUNITY, "小区供暖不热", petitioner=p1_petitioner),
        full(CHENGGUAN, "satisfied"),
        closed_on=d("2025-08-10"),
    )
    await make(
        "P2",
        p(CHENLU_VILLAGE, "村道塌陷"),
        full(CHENLU_VILLAGE, "basically_satisfied"),
        closed_on=d("2025-08-20"),
    )
    await make(
        "P3",
        p(CHENGGUAN_COMMUNITY, "物业收费"),
        full("D-ZJJ", "satisfied"),
        closed_on=d("2025-08-15"),
    )
    await make(
        "P4",
        p(CHENGGUAN_COMMUNITY, "噪声扰民"),
        [*full(CHENGGUAN, "dissatisfied"), ("request_review", {"reason": "对答复不服，申请复查"})],
        closed_on=d("2025-08-25"),
    )
    await make(
        "P5",
        p(CHENGGUAN_COMMUNITY, "违章搭建"),
        [*full(CHENGGUAN, "dissatisfied"), ("reopen", {"reason": "回访不满意，重新办理"})],
    )
    # P1 again: the same petitioner (phone) and matter → detected as a repeat at intake.
    await make(
        "P6",
        p(CHENGGUAN_COMMUNITY, "小区供暖不热", petitioner=p1_petitioner, received_on="2025-07-20"),
        full(CHENGGUAN, "satisfied"),
        closed_on=d("2025-08-12"),
    )
    await make("P7", p(CHENLU, "灌溉用水"), full(CHENLU, "satisfied"), closed_on=d("2025-10-01"))
    await make(
        "P8",
        p(SANLIDONG, "征地补偿"),
        [
            ("dispatch", {"to_unit_id": SANLIDONG}),
            ("accept", action_body("accept")),
            ("escalate", {"to_unit_id": DISTRICT, "reason": "涉及多个部门，提级办理"}),
            ("reply", action_body("reply")),
            ("rate", {"rating": "satisfied"}),
            ("close", {}),
        ],
        closed_on=d("2025-09-30"),
    )
    # P9: the 复查 of P4, routed to the organ above 城关街道 that replied: the district
    # (第三十五条).
    async with unit_of_work(sessions) as session:
        review_id = ids["P4:review"]
        review_steps: list[Step] = [
            ("accept", action_body("accept")),
            ("reply", action_body("reply")),
            ("rate", {"rating": "satisfied"}),
            ("close", {}),
        ]
        for action, step_body in review_steps:
            await actions.perform(
                session,
                review_id,
                Action(action),
                ACTION_BODIES[Action(action)].model_validate(step_body),
                actor="op",
                if_match=None,
                settings=settings,
            )
        await session.execute(
            update(Case)
            .where(Case.id == review_id)
            .values(received_on=d("2025-08-20"), closed_on=d("2025-08-28"))
        )
        ids["P9"] = review_id
    await make(
        "P10",
        p(CHENGGUAN_COMMUNITY, "邻里纠纷"),
        [("decline", action_body("decline"))],
        closed_on=d("2025-07-15"),
    )
    await make("P11", p(CHENGGUAN_COMMUNITY, "拖欠工资", received_on="2025-07-01"), [])
    await make("P12", p(CHENLU, "饮水安全", received_on=today_in_china().isoformat()), [])

    def h(**changes: Any) -> dict[str, Any]:
        return hotline(
            description="陈炉镇某村主干道路灯三晚未亮。",
            place={"unit_id": CHENLU_VILLAGE},
            **changes,
        )

    caller = {"name": "王先生", "phone": "13600000001"}
    ticket = full(CHENLU, "satisfied", ticket=True)
    await make(
        "H1", h(petitioner=caller), ticket, received_on=d("2025-08-01"), closed_on=d("2025-08-02")
    )
    await make(
        "H2",
        h(),
        full(CHENLU, "basically_satisfied", ticket=True),
        received_on=d("2025-08-03"),
        closed_on=d("2025-08-04"),
        on_time=False,
    )
    await make(
        "H3", h(), full(CHENLU, "dissatisfied", ticket=True)[:-1], received_on=d("2025-08-05")
    )
    await make("H4", h(), ticket[:2], received_on=d("2025-08-06"))
    await make(
        "H5",
        h(),
        [("decline", action_body("decline"))],
        received_on=d("2025-08-07"),
        closed_on=d("2025-08-07"),
    )
    await make(
        "H6",
        h(),
        full(CHENLU, "dissatisfied", ticket=True),
        received_on=d("2025-07-31"),
        closed_on=d("2025-08-01"),
    )
    await make(
        "H7",
        h(),
        [*ticket[:4], ("close", {})],
        received_on=d("2025-08-08"),
        closed_on=d("2025-08-10"),
    )
    await make("H8", h(petitioner=caller), ticket[:1], received_on=d("2025-08-09"))
    # The days were moved with SQL, behind the service's back: recount the grassroots rollup,
    # as the benchmark's seed does after its bulk load.
    async with unit_of_work(sessions) as session:
        await rollup.rebuild(session)
    return ids


async def figure(
    app: FastAPI,
    metric: str,
    period: str | None,
    settings: Settings | None = None,
    **filters: Any,
) -> metrics.Result:
    definition = DEFINITIONS[metric]
    query = metrics.Query(
        definition=definition,
        period=parse_period(period) if period else None,
        kind=filters.pop("kind", definition.default_kind),
        **filters,
    )
    async with unit_of_work(app.state.sessions) as session:
        return await metrics.compute(session, query, settings=settings or app.state.settings)


async def case_ids(app: FastAPI, metric: str, period: str | None, **filters: Any) -> set[str]:
    definition = DEFINITIONS[metric]
    in_numerator = filters.pop("in_numerator", None)
    town = filters.pop("town", None)
    query = metrics.Query(
        definition=definition,
        period=parse_period(period) if period else None,
        kind=filters.pop("kind", definition.default_kind),
        **filters,
    )
    async with unit_of_work(app.state.sessions) as session:
        rows, _ = await metrics.cases(
            session,
            query,
            settings=app.state.settings,
            in_numerator=in_numerator,
            town=town,
            limit=500,
        )
    return {str(row.id) for row in rows}


def names(ids: dict[str, uuid.UUID], *keys: str) -> set[str]:
    return {str(ids[k]) for k in keys}


# ------------------------------------------------------------------ the set is what we think


async def test_the_hand_built_set_has_the_intended_facts(
    metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]
) -> None:
    async with unit_of_work(metrics_app.state.sessions) as session:
        p = {k: await session.get(Case, v) for k, v in cases_set.items()}
    assert p["P6"] is not None and p["P6"].repeat_of == cases_set["P1"]
    assert p["P6"].first_time is False
    assert p["H8"] is not None and p["H8"].repeat_of == cases_set["H1"]
    assert p["P5"] is not None and p["P5"].status == "in_progress" and p["P5"].closed_on is None
    assert p["P8"] is not None and p["P8"].resolution_level == "district"
    assert p["P8"].grassroots is False
    assert p["P2"] is not None and p["P2"].resolution_level == "village" and p["P2"].grassroots
    assert p["P3"] is not None and p["P3"].resolution_level == "department"
    assert p["P9"] is not None and p["P9"].review_stage == "review"
    assert p["H4"] is not None and p["H4"].responded_at is None
    assert p["H1"] is not None and p["H1"].responded_at is not None


# ------------------------------------------------------------ first-time grassroots (grassroots-v1)


async def test_grassroots_rate_by_quarter_month_and_year(
    metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]
) -> None:
    q3 = await figure(metrics_app, "first-time-grassroots-resolution", "2025-Q3")
    # Concluded first-time petitions in Q3: P1, P2, P3, P4, P8. Not P5 (reopened), P6 (repeat),
    # P7 (closed 1 Oct), P9 (a 复查), P10 (declined). Effective at the grassroots: P1, P2.
    assert (q3.counts.numerator, q3.counts.denominator, q3.counts.rate) == (2, 5, 0.4)
    assert q3.target == 0.8
    assert await case_ids(metrics_app, "first-time-grassroots-resolution", "2025-Q3") == names(
        cases_set, "P1", "P2", "P3", "P4", "P8"
    )
    assert await case_ids(
        metrics_app, "first-time-grassroots-resolution", "2025-Q3", in_numerator=True
    ) == names(cases_set, "P1", "P2")

    august = await figure(metrics_app, "first-time-grassroots-resolution", "2025-08")
    assert (august.counts.numerator, august.counts.denominator) == (2, 4)
    september = await figure(metrics_app, "first-time-grassroots-resolution", "2025-09")
    assert (september.counts.numerator, september.counts.denominator) == (0, 1)  # P8: district
    q4 = await figure(metrics_app, "first-time-grassroots-resolution", "2025-Q4")
    assert (q4.counts.numerator, q4.counts.denominator, q4.counts.rate) == (1, 1, 1.0)  # P7
    year = await figure(metrics_app, "first-time-grassroots-resolution", "2025")
    assert (year.counts.numerator, year.counts.denominator) == (3, 6)
    nothing = await figure(metrics_app, "first-time-grassroots-resolution", "2024")
    assert (nothing.counts.denominator, nothing.counts.rate) == (0, None)


async def test_grassroots_rate_per_town_and_by_subtree(
    metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]
) -> None:
    q3 = await figure(metrics_app, "first-time-grassroots-resolution", "2025-Q3")
    assert q3.towns is not None
    towns = {t.town_unit_id: (t.counts.numerator, t.counts.denominator) for t in q3.towns}
    assert towns[CHENGGUAN] == (1, 3)  # P1 yes; P3 (department), P4 (dissatisfied) no
    assert towns[CHENLU] == (1, 1)  # P2
    assert towns[SANLIDONG] == (0, 1)  # P8, resolved at the district
    assert len(towns) == 10 and sum(d for _, d in towns.values()) == 5
    assert await case_ids(
        metrics_app, "first-time-grassroots-resolution", "2025-Q3", town=CHENGGUAN
    ) == names(cases_set, "P1", "P3", "P4")

    chenlu = await figure(metrics_app, "first-time-grassroots-resolution", "2025-Q3", unit=CHENLU)
    assert (chenlu.counts.numerator, chenlu.counts.denominator) == (1, 1)
    assert chenlu.towns is not None and [t.town_unit_id for t in chenlu.towns] == [CHENLU]
    community = await figure(
        metrics_app, "first-time-grassroots-resolution", "2025-Q3", unit=CHENGGUAN_COMMUNITY
    )
    assert (community.counts.numerator, community.counts.denominator) == (1, 3)
    # By handling unit: 城关街道 handled P1 and P4 (P3 went to a department).
    handled = await figure(
        metrics_app,
        "first-time-grassroots-resolution",
        "2025-Q3",
        unit=CHENGGUAN,
        unit_basis=metrics.UnitBasis.HANDLING,
    )
    assert (handled.counts.numerator, handled.counts.denominator) == (1, 2)
    # The auth layer's scope and the caller's filter both apply: an empty intersection.
    both = await figure(
        metrics_app,
        "first-time-grassroots-resolution",
        "2025-Q3",
        unit=CHENLU,
        scope=CHENGGUAN,
    )
    assert both.counts.denominator == 0


# ------------------------------------------------------------------------- hotline figures


async def test_response_and_resolution_rates(
    metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]
) -> None:
    # Tickets received in August, not declined: H1, H2, H3, H4, H7, H8 (H5 declined, H6 July).
    response = await figure(metrics_app, "response", "2025-08")
    assert (response.counts.numerator, response.counts.denominator) == (4, 6)
    assert response.counts.rate == round(4 / 6, 6)
    assert await case_ids(metrics_app, "response", "2025-08", in_numerator=False) == names(
        cases_set, "H4", "H8"
    )
    resolution = await figure(metrics_app, "resolution", "2025-08")
    assert (resolution.counts.numerator, resolution.counts.denominator) == (3, 6)
    assert await case_ids(metrics_app, "resolution", "2025-08", in_numerator=True) == names(
        cases_set, "H1", "H2", "H7"
    )
    # The same definitions over petitions received in July: P1–P8, P11 (P10 declined).
    petitions = await figure(metrics_app, "resolution", "2025-07", kind=None)
    # kind=None: all kinds → the July petitions and H6.
    assert petitions.counts.denominator == 10
    assert petitions.counts.numerator == 8  # all but P5 (reopened) and P11 (not accepted)


async def test_satisfaction_rate_weights_basically_satisfied(
    metrics_app: FastAPI, metrics_settings: Settings, cases_set: dict[str, uuid.UUID]
) -> None:
    # Closed in August with a rating: H1 satisfied, H2 basically, H6 dissatisfied. H7 has no
    # rating, H3 is not closed, H5 was declined.
    full_weight = await figure(metrics_app, "satisfaction", "2025-08")
    assert (full_weight.counts.numerator, full_weight.counts.denominator) == (2, 3)
    half = metrics_settings.model_copy(update={"basic_satisfaction_weight": 0.5})
    weighted = await figure(metrics_app, "satisfaction", "2025-08", settings=half)
    assert (weighted.counts.numerator, weighted.counts.denominator) == (1.5, 3)
    assert weighted.counts.rate == 0.5
    assert weighted.counts.parts == {"satisfied": 1, "basically_satisfied": 1}
    assert await case_ids(metrics_app, "satisfaction", "2025-08") == names(
        cases_set, "H1", "H2", "H6"
    )


async def test_on_time_rate(metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]) -> None:
    # Closed in August: H1, H2 (late), H6, H7 — H6 was received in July but closed in August.
    on_time = await figure(metrics_app, "on-time", "2025-08")
    assert (on_time.counts.numerator, on_time.counts.denominator) == (3, 4)
    assert await case_ids(metrics_app, "on-time", "2025-08", in_numerator=False) == names(
        cases_set, "H2"
    )


async def test_repeat_rate(metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]) -> None:
    august = await figure(metrics_app, "repeat", "2025-08")  # both kinds; P9 is a 复查
    assert (august.counts.numerator, august.counts.denominator) == (1, 7)
    assert await case_ids(metrics_app, "repeat", "2025-08", in_numerator=True) == names(
        cases_set, "H8"
    )
    july = await figure(metrics_app, "repeat", "2025-07")  # P1–P8, P10, P11 and H6
    assert (july.counts.numerator, july.counts.denominator) == (1, 11)
    from gov_common.events.petitions import CaseKind

    petitions = await figure(metrics_app, "repeat", "2025-07", kind=CaseKind.PETITION_CASE)
    assert (petitions.counts.numerator, petitions.counts.denominator) == (1, 10)


async def test_backlog(metrics_app: FastAPI, cases_set: dict[str, uuid.UUID]) -> None:
    # Open petitions: P5 (reopened, a new 60-day clock), P11 (acceptance due 2025-07-16), P12.
    now = await figure(metrics_app, "backlog", None)
    assert (now.counts.numerator, now.counts.denominator) == (1, 3)
    assert await case_ids(metrics_app, "backlog", None, in_numerator=True) == names(
        cases_set, "P11"
    )
    july = await figure(metrics_app, "backlog", "2025-07")  # received in July: P5, P11
    assert (july.counts.numerator, july.counts.denominator) == (1, 2)
    # Before P11's acceptance clock ran out, it was not a backlog case yet.
    earlier = await figure(metrics_app, "backlog", None, as_of=datetime(2025, 7, 10, tzinfo=UTC))
    assert earlier.counts.numerator == 0


# ------------------------------------------------------------------------------ over HTTP


async def test_figure_over_http_carries_definition_period_and_trace(
    metrics_client: httpx.AsyncClient, cases_set: dict[str, uuid.UUID]
) -> None:
    response = await metrics_client.get(
        "/v1/metrics/first-time-grassroots-resolution", params={"period": "2025-q3"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["definition_id"] == "first-time-grassroots-resolution"
    assert body["definition_version"] == "grassroots-v1"
    assert body["period"] == {
        "label": "2025-Q3",
        "granularity": "quarter",
        "start": "2025-07-01",
        "end": "2025-09-30",
        "time_zone": "Asia/Shanghai",
    }
    assert (body["numerator"], body["denominator"], body["rate"]) == (2, 5, 0.4)
    assert (body["target"], body["meets_target"]) == (0.8, False)
    chenlu = next(t for t in body["breakdown"] if t["town_unit_id"] == CHENLU)
    assert (chenlu["numerator"], chenlu["denominator"], chenlu["meets_target"]) == (1, 1, True)
    assert chenlu["town_name"] == "陈炉镇"

    # Follow cases_url page by page: every case once, in closing order.
    seen: list[str] = []
    url: str | None = body["cases_url"] + "&limit=2"
    while url:
        page = (await metrics_client.get(url)).json()
        seen += [c["id"] for c in page["items"]]
        url = (
            (body["cases_url"] + f"&limit=2&cursor={page['next_cursor']}")
            if page["next_cursor"]
            else None
        )
    order = ["P1", "P3", "P2", "P4", "P8"]  # closed 08-10, 08-15, 08-20, 08-25, 09-30
    assert seen == [str(cases_set[k]) for k in order]
    town_page = (await metrics_client.get(chenlu["cases_url"])).json()
    assert [c["id"] for c in town_page["items"]] == [str(cases_set["P2"])]
    assert town_page["items"][0]["in_numerator"] is True

    ranged = await metrics_client.get(
        "/v1/metrics/first-time-grassroots-resolution",
        params={"from": "2025-08-11", "to": "2025-09-30"},
    )
    # P3 (08-15), P2 (08-20), P4 (08-25), P8 (09-30): only P2 effective at the grassroots.
    assert (ranged.json()["numerator"], ranged.json()["denominator"]) == (1, 4)
    assert ranged.json()["period"]["granularity"] == "range"


async def test_summary_and_definitions(
    metrics_client: httpx.AsyncClient, cases_set: dict[str, uuid.UUID]
) -> None:
    definitions = (await metrics_client.get("/v1/metrics")).json()
    assert {d["id"]: d["version"] for d in definitions} == {
        "first-time-grassroots-resolution": "grassroots-v1",
        "response": "response-v1",
        "resolution": "resolution-v1",
        "satisfaction": "satisfaction-v1",
        "on-time": "on-time-v1",
        "repeat": "repeat-v1",
        "backlog": "backlog-v1",
    }
    summary = await metrics_client.get("/v1/metrics/summary", params={"period": "2025-08"})
    figures = {f["definition_id"]: f for f in summary.json()["figures"]}
    assert (figures["response"]["numerator"], figures["response"]["denominator"]) == (4, 6)
    assert figures["satisfaction"]["scope"]["kind"] == "hotline_ticket"
    assert figures["repeat"]["scope"]["kind"] == "all"
    spec = (await metrics_client.get("/openapi.json")).json()
    described = spec["paths"]["/v1/metrics/first-time-grassroots-resolution"]["get"]
    assert "grassroots-v1" in described["description"]
    assert "初信初访" in described["description"]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/metrics/response", {"period": "2025-13"}, 422, "period"),
        ("/v1/metrics/response", {"period": "last month"}, 422, "period"),
        ("/v1/metrics/response", {}, 422, "period"),
        ("/v1/metrics/response", {"period": "2025", "from": "2025-01-01"}, 422, "period"),
        ("/v1/metrics/response", {"from": "2025-01-01"}, 422, "to"),
        ("/v1/metrics/response", {"from": "2025-02-01", "to": "2025-01-01"}, 422, "to"),
        ("/v1/metrics/response", {"period": "2025", "unit": "NOPE"}, 422, "unit"),
        ("/v1/metrics/response", {"period": "2025", "kind": "letters"}, 422, "kind"),
        (
            "/v1/metrics/first-time-grassroots-resolution",
            {"period": "2025", "kind": "hotline_ticket"},
            422,
            "kind",
        ),
        ("/v1/metrics/response/cases", {"period": "2025", "cursor": "junk"}, 400, None),
        ("/v1/metrics/response/cases", {"period": "2025", "limit": 0}, 422, "limit"),
        ("/v1/metrics/happiness", {"period": "2025"}, 404, None),
    ],
)
async def test_bad_input_is_a_problem_that_says_what_to_fix(
    metrics_client: httpx.AsyncClient,
    path: str,
    params: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    response = await metrics_client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        body = response.json()
        assert field in {p["name"] for p in body.get("invalid_params", [])}, body
