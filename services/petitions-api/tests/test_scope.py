"""Org-unit scope: a handler of one town cannot read, list, count or act on another town's
cases by any route — generated over every route the policy lets a handler call.

Three cases are placed in 陈炉镇 and handled there: an open 12345 ticket, a 信访 case taken to
closure by 陈炉镇's own handler, and a 信访 case left waiting. 红土镇's handler then calls every
route it may call; 陈炉镇's handler calls the same ones and must see what 红土镇's may not (so
the test can fail). Figures are compared before and after the cases exist.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from gov_common.security.principal import Role
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.security import POLICY

from .helpers import act, action_body, create, hotline, petition

pytestmark = pytest.mark.integration

CHENLU, CHENLU_VILLAGE = "610203100", "610203100001"
HONGTU = "610203101"
HANDLER_ROUTES = sorted(k for k, roles in POLICY.rules.items() if Role.HANDLER in roles)
# Routes a handler may call that hold no case data at all.
NO_CASE_DATA = {
    ("GET", "/v1/org-units"),
    ("GET", "/v1/categories"),
    ("GET", "/v1/hotline-tiers"),
    ("GET", "/v1/reference-versions"),
    ("GET", "/v1/calendar"),
    ("GET", "/v1/calendar/{year}"),
    ("GET", "/v1/calendar/{year}/versions"),
    ("GET", "/v1/metrics"),
    ("GET", "/open311/v2/discovery.{fmt}"),
    ("GET", "/open311/v2/services.{fmt}"),
    ("GET", "/open311/v2/services/{service_code}.{fmt}"),
}
YEAR = {"period": str(date.today().year)}


def _kind(method: str, template: str) -> str:
    """Which check a route gets; a new route a handler may call must be classified here."""
    if (method, template) in NO_CASE_DATA:
        return "none"
    if "{case_id}" in template:
        return "one case"
    if "{service_request_id}" in template:
        return "one request"
    if template == "/v1/cases":
        return "case list"
    if template == "/open311/v2/requests.{fmt}":
        return "request list"
    if template == "/v1/metrics/summary":
        return "summary"
    if re.fullmatch(r"/v1/metrics/[a-z-]+/cases", template):
        return "metric cases"
    if re.fullmatch(r"/v1/metrics/[a-z-]+", template):
        return "figure"
    raise AssertionError(f"{method} {template}: say how its scope is checked")


def test_every_route_a_handler_may_call_is_checked() -> None:
    kinds = {key: _kind(*key) for key in HANDLER_ROUTES}
    assert "one case" in kinds.values() and "figure" in kinds.values()


def _params(figure: str) -> dict[str, str]:
    """This year's figure over every kind the definition lets a caller choose."""
    if figure.endswith("/backlog"):
        return {}  # a snapshot of open 信访 cases
    if figure.endswith("/first-time-grassroots-resolution"):
        return dict(YEAR)  # 信访 cases only
    return {**YEAR, "kind": "all"}


async def _figures(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Every figure of the year (and the backlog snapshot) as ``headers`` sees it."""
    seen: dict[str, Any] = {}
    for method, template in HANDLER_ROUTES:
        kind = _kind(method, template)
        if kind == "figure":
            response = await http.get(template, params=_params(template), headers=headers)
            assert response.status_code == 200, (template, response.text)
            body = response.json()
            seen[template] = (body["numerator"], body["denominator"])
        elif kind == "summary":
            response = await http.get(template, params=YEAR, headers=headers)
            assert response.status_code == 200, response.text
            seen[template] = [
                (f["numerator"], f["denominator"]) for f in response.json()["figures"]
            ]
    return seen


async def _metric_case_ids(
    http: httpx.AsyncClient, template: str, headers: dict[str, str]
) -> set[str]:
    params: dict[str, Any] = {**_params(template.removesuffix("/cases")), "limit": 500}
    found: set[str] = set()
    while True:
        response = await http.get(template, params=params, headers=headers)
        assert response.status_code == 200, (template, response.text)
        page = response.json()
        found |= {item["id"] for item in page["items"]}
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


async def test_a_handler_of_one_town_cannot_reach_another_towns_cases_by_any_route(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    hongtu = auth.headers("handler", org_unit=HONGTU, subject="handler@hongtu")
    chenlu = auth.headers("handler", org_unit=CHENLU, subject="handler@chenlu")
    hongtu_before = await _figures(bare, hongtu)
    chenlu_before = await _figures(bare, chenlu)

    place = {"unit_id": CHENLU_VILLAGE}
    ticket = await create(client, hotline(petitioner={"name": "王先生", "phone": "13512340000"}))
    closed = await create(client, petition(place=place, category_code="VILLAGE-AFFAIRS"))
    waiting = await create(client, petition(place=place, category_code="VILLAGE-AFFAIRS"))
    assert (await act(client, closed["id"], "dispatch", {})).status_code == 200
    for step in ("accept", "reply"):  # 陈炉镇's own handler accepts and works its case
        response = await act(bare, closed["id"], step, action_body(step), **chenlu)
        assert response.status_code == 200, response.text
    await act(client, closed["id"], "rate", {"rating": "satisfied"})
    closed = (await act(client, closed["id"], "close")).json()
    assert closed["status"] == "closed" and closed["handling_unit_id"] == CHENLU
    ours = {ticket["id"], closed["id"], waiting["id"]}

    hongtu_after = await _figures(bare, hongtu)
    chenlu_after = await _figures(bare, chenlu)
    assert hongtu_after == hongtu_before, "红土镇's handler counted 陈炉镇's cases"
    assert chenlu_after != chenlu_before, "陈炉镇's handler should count its own cases"

    leaks: list[str] = []
    checked: set[str] = set()
    for method, template in HANDLER_ROUTES:
        kind = _kind(method, template)
        checked.add(kind)
        if kind == "one case":
            for case in (ticket, closed, waiting):
                path = template.replace("{case_id}", case["id"])
                body = action_body(path.rsplit("/", 1)[1]) if "/actions/" in path else None
                theirs = await bare.request(method, path, json=body, headers=hongtu)
                if theirs.status_code != 404:
                    leaks.append(f"{method} {path}: {theirs.status_code}")
                if method == "GET":
                    own = await bare.request(method, path, headers=chenlu)
                    assert own.status_code == 200, (path, own.text)
        elif kind == "one request":
            path = template.replace("{service_request_id}", ticket["case_number"])
            path = path.replace("{fmt}", "json")
            theirs = await bare.get(path, headers=hongtu)
            if theirs.status_code != 404:
                leaks.append(f"{path}: {theirs.status_code}")
            assert (await bare.get(path, headers=chenlu)).status_code == 200
        elif kind == "case list":
            for params in ({}, {"q": ticket["case_number"]}, {"place_unit": CHENLU}):
                theirs = (await bare.get(template, params=params, headers=hongtu)).json()
                if ours & {c["id"] for c in theirs["items"]}:
                    leaks.append(f"{template} {params}")
            own = (await bare.get(template, params={"unit": CHENLU}, headers=chenlu)).json()
            assert closed["id"] in {c["id"] for c in own["items"]}
        elif kind == "request list":
            path = template.replace("{fmt}", "json")
            params = {"service_request_id": ticket["case_number"]}
            if (await bare.get(path, params=params, headers=hongtu)).json() != []:
                leaks.append(path)
            assert len((await bare.get(path, params=params, headers=chenlu)).json()) == 1
            if ticket["case_number"] in str((await bare.get(path, headers=hongtu)).json()):
                leaks.append(f"{path} (default window)")
        elif kind == "metric cases" and ours & await _metric_case_ids(bare, template, hongtu):
            leaks.append(template)
        # "figure" and "summary" were compared above; "none" hold no cases.
    assert leaks == []
    assert checked >= {"one case", "one request", "case list", "request list", "metric cases"}

    # Nothing 红土镇's handler tried changed a case.
    for case in (ticket, closed, waiting):
        again = (await client.get(f"/v1/cases/{case['id']}")).json()
        assert again["version"] == case["version"], case["case_number"]


async def test_the_handler_sees_cases_placed_or_handled_in_its_subtree(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    # Placed in 城关街道, dispatched to 区住建局: both the town and the department see it.
    case = await create(client, petition())
    await act(client, case["id"], "dispatch", {"to_unit_id": "D-ZJJ"})
    see: Callable[[str], Awaitable[int]] = _status_for(bare, auth, case["id"])
    assert await see("610203001") == 200  # 城关街道: the place
    assert await see("D-ZJJ") == 200  # the handling department
    assert await see("D-JYJ") == 404  # another department
    assert await see("610203") == 200  # the district: everything below it
    assert await see("NO-SUCH-UNIT") == 404  # an unknown unit sees nothing


def _status_for(
    bare: httpx.AsyncClient, auth: SessionAuth, case_id: str
) -> Callable[[str], Awaitable[int]]:
    async def status(org_unit: str) -> int:
        headers = auth.headers("supervisor", org_unit=org_unit)
        return (await bare.get(f"/v1/cases/{case_id}", headers=headers)).status_code

    return status
