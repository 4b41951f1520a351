"""Who may call what: the access matrix, credentials that are refused, and departments' scope.

The matrix is generated from the policy (``targets_api.security.POLICY``) and the app's own
routes: every route is called as every role and anonymously.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from gov_common.problems import ProblemError
from gov_common.security.access import ALL_ROLES, route_keys
from gov_common.security.principal import Principal, Role
from gov_common.security.tokens import SigningKey, TokenIssuer
from gov_common.testing import TestAuth as SessionAuth
from targets_api.config import Settings
from targets_api.indicators.models import Indicator
from targets_api.main import create_app
from targets_api.progress.models import ProgressReport
from targets_api.progress.service import reporting_department
from targets_api.security import POLICY

pytestmark = pytest.mark.integration

Department = Callable[[str], dict[str, str]]

# Valid-looking path parameters: an allowed call may then answer 404 or 422, never 401/403.
PATH_VALUES = {
    "plan_ref": "no-such-plan",
    "indicator_id": str(uuid.UUID(int=7)),
    "report_id": str(uuid.UUID(int=8)),
    "key_id": "0123456789abcdef",
}


def _path(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)


def _role_headers(auth: SessionAuth, role: Role) -> dict[str, str]:
    # A handler is a department; the others are district-level (no org unit).
    org_unit = "edu" if role is Role.HANDLER else None
    return auth.headers(role.value, org_unit=org_unit)


def test_the_policy_names_exactly_the_routes_of_the_app(app: FastAPI) -> None:
    assert POLICY.unlisted_routes(app) == []
    assert set(POLICY.rules) - set(route_keys(app)) == set(), "policy names routes that are gone"


def test_the_policy_follows_the_role_semantics_of_this_service() -> None:
    """The table against the rules in its docstring, so a slip in one line is caught (the
    matrix test below only proves the app enforces whatever the table says)."""
    mutations = {key for key in POLICY.rules if key[0] != "GET"}
    admin_only = {key for key in POLICY.rules if key[1].startswith("/v1/api-keys")}
    for key, roles in POLICY.rules.items():
        assert Role.ADMIN in roles, key
        if key[0] == "GET" and key not in admin_only:
            assert roles == ALL_ROLES, key  # targets hold no personal data: everyone reads
    assert {key for key, roles in POLICY.rules.items() if roles == {Role.ADMIN}} == admin_only

    def may_change(role: Role) -> set[tuple[str, str]]:
        return {key for key in mutations if role in POLICY.rules[key]}

    for reader in (Role.READ_ONLY, Role.OPERATOR, Role.SUPERVISOR, Role.SYSTEM_CLIENT):
        assert may_change(reader) == set(), reader
    assert may_change(Role.HANDLER) == {("POST", "/v1/indicators/{indicator_id}/reports")}
    assert may_change(Role.PLANNER) == {
        ("POST", "/v1/plans"),
        ("POST", "/v1/plans/{plan_ref}/copies"),
        ("POST", "/v1/plans/{plan_ref}/indicators"),
        ("POST", "/v1/reports/{report_id}/approval"),
        ("POST", "/v1/reports/{report_id}/return"),
    }


@pytest.mark.parametrize(("method", "template"), sorted(POLICY.rules), ids=" ".join)
async def test_every_role_gets_what_the_matrix_says(
    app: FastAPI, auth: SessionAuth, method: str, template: str
) -> None:
    allowed = POLICY.rules[(method, template)]
    path = _path(template)
    wrong: list[str] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://targets"
    ) as http:
        anonymous = await http.request(method, path)
        if anonymous.status_code != 401:
            wrong.append(f"anonymous: {anonymous.status_code}")
        for role in Role:
            response = await http.request(method, path, headers=_role_headers(auth, role))
            if role in allowed and response.status_code in (401, 403):
                wrong.append(f"{role} refused: {response.status_code} {response.text}")
            if role not in allowed and response.status_code != 403:
                wrong.append(f"{role} not forbidden: {response.status_code}")
            if response.status_code in (401, 403):
                assert response.headers["content-type"] == "application/problem+json"
    assert wrong == []


async def test_the_callers_that_the_first_slice_relies_on_are_allowed(
    client: httpx.AsyncClient, auth: SessionAuth
) -> None:
    # tests/e2e/test_first_slice.py: the planner reads the case-event tally, read_only lists.
    tally = await client.get("/v1/live/case-events", headers=auth.headers("planner"))
    assert tally.status_code == 200
    listed = await client.get("/v1/indicators", headers=auth.headers("read_only"))
    assert listed.status_code == 200


# --- API keys ----------------------------------------------------------------------------


async def _new_key(client: httpx.AsyncClient, auth: SessionAuth, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/api-keys", json=body, headers=auth.headers("admin"))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_an_api_key_carries_its_roles_until_it_is_revoked(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    key = await _new_key(client, auth, name="市大数据局", roles=["system_client"])
    as_system = {"X-API-Key": key["key"]}
    assert (await bare.get("/v1/indicators", headers=as_system)).status_code == 200
    # Never from a query string (URLs end up in proxy logs): a 401 says where it goes.
    in_url = await bare.get("/v1/plans", params={"api_key": key["key"]})
    assert in_url.status_code == 401
    assert "send the key in the X-API-Key header" in in_url.json()["detail"]
    assert (await bare.post("/v1/plans", json={}, headers=as_system)).status_code == 403
    listed = await client.get("/v1/api-keys", headers=auth.headers("admin"))
    assert key["id"] in [k["id"] for k in listed.json()]
    assert "key" not in listed.json()[0] and "secret_sha256" not in listed.json()[0]

    revoked = await client.delete(f"/v1/api-keys/{key['id']}", headers=auth.headers("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = await bare.get("/v1/indicators", headers=as_system)
    assert refused.status_code == 401 and "unknown or revoked" in refused.json()["detail"]


@pytest.mark.parametrize(
    "presented",
    [
        "gk_0123456789abcdef_" + "A" * 43,  # well formed, unknown
        "not-a-key",
    ],
)
async def test_unknown_api_keys_are_refused(bare: httpx.AsyncClient, presented: str) -> None:
    response = await bare.get("/v1/indicators", headers={"X-API-Key": presented})
    assert response.status_code == 401


async def test_a_secret_that_does_not_match_the_key_id_is_refused(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    key = await _new_key(client, auth, name="x", roles=["read_only"])
    assert (await bare.get("/v1/plans", headers={"X-API-Key": key["key"]})).status_code == 200
    forged = key["key"][:-1] + ("B" if key["key"].endswith("A") else "A")
    assert (await bare.get("/v1/plans", headers={"X-API-Key": forged})).status_code == 401


# --- tokens that are not to be trusted ---------------------------------------------------


@pytest.fixture
async def trusting(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, SigningKey]]:
    """The app trusting one issuer of this test's own, whose signing key the test holds."""
    key = SigningKey.generate()
    issuer = TokenIssuer(issuer="https://idp.test", audience="gov-suite", keys=[key])
    app = create_app(
        settings.model_copy(
            update={
                "auth_issuer": "https://idp.test",
                "auth_audience": "gov-suite",
                "auth_jwks": orjson.dumps(issuer.jwks()).decode(),
            }
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://targets"
    ) as http:
        yield http, key
    await app.state.engine.dispose()


def _token(
    key: SigningKey, *, issuer: str = "https://idp.test", audience: str = "gov-suite", **kwargs: Any
) -> str:
    return TokenIssuer(issuer=issuer, audience=audience, keys=[key]).issue(
        "someone", [Role.ADMIN], **kwargs
    )


async def test_tokens_that_cannot_be_trusted_are_refused(
    trusting: tuple[httpx.AsyncClient, SigningKey],
) -> None:
    http, key = trusting
    good = _token(key)
    trusted = await http.get("/v1/plans", headers={"Authorization": f"Bearer {good}"})
    assert trusted.status_code == 200, trusted.text

    impostor = SigningKey(kid=key.kid, private_pem=SigningKey.generate().private_pem)
    refused = {
        "token expired": _token(key, now=int(time.time()) - 7200, ttl_s=600),
        "signature does not verify": _token(impostor),
        "signing key not found": _token(SigningKey.generate()),
        "another audience": _token(key, audience="other-suite"),
        "another issuer": _token(key, issuer="https://evil.test"),
        "algorithm 'HS256' is not accepted": jwt.encode(
            {"sub": "x", "roles": ["admin"], "iss": "https://idp.test", "aud": "gov-suite"},
            "a-shared-secret-that-no-service-should-ever-accept-" * 2,
            algorithm="HS256",
            headers={"kid": key.kid},
        ),
        "malformed token": "not.a.jwt",
    }
    for reason, token in refused.items():
        response = await http.get("/v1/plans", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (reason, response.text)
        assert reason in response.json()["detail"], (reason, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


# --- a department reports only on its own indicators ---------------------------------------


async def _indicator(client: httpx.AsyncClient, plan_code: str, **fields: Any) -> str:
    await client.post("/v1/plans", json={"code": plan_code, "name_zh": "计划", "year": 2023})
    response = await client.post(
        f"/v1/plans/{plan_code}/indicators",
        json={
            "code": "EDU-1",
            "name_zh": "新增学位",
            "kind": "at_least",
            "target": 500,
            "lead_department": "edu",
            "co_departments": ["town-a"],
            **fields,
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _reports(app: FastAPI, indicator_id: str) -> int:
    async with app.state.sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(ProgressReport)
                .where(ProgressReport.indicator_id == indicator_id)
            )
            or 0
        )


async def test_the_lead_and_co_organisers_report_and_no_other_department(
    client: httpx.AsyncClient,
    app: FastAPI,
    auth: SessionAuth,
    plan_code: str,
    department: Department,
) -> None:
    indicator_id = await _indicator(client, plan_code)
    url = f"/v1/indicators/{indicator_id}/reports"
    lead = await client.post(url, json={"value": 10}, headers=department("edu"))
    assert lead.status_code == 201 and lead.json()["department"] == "edu"
    co = await client.post(url, json={"value": 12}, headers=department("town-a"))
    assert co.status_code == 201 and co.json()["department"] == "town-a"

    refused = {
        "another department": department("finance"),
        "a handler without a department": auth.headers("handler"),
        # The route is open to admins, but a report is always a responsible department's.
        "an admin without a department": auth.headers("admin"),
        "the planning office": auth.headers("planner"),
        "a supervisor of the lead department": auth.headers("supervisor", org_unit="edu"),
    }
    for who, headers in refused.items():
        response = await client.post(url, json={"value": 99}, headers=headers)
        assert response.status_code == 403, (who, response.text)
    assert await _reports(app, indicator_id) == 2

    # An admin acting for the lead department may report, as that department.
    admin = await client.post(
        url, json={"value": 11}, headers=auth.headers("admin", org_unit="edu", subject="ops")
    )
    assert admin.status_code == 201
    assert (admin.json()["department"], admin.json()["reported_by"]) == ("edu", "ops")


async def test_a_department_corrects_only_its_own_reports(
    client: httpx.AsyncClient, app: FastAPI, plan_code: str, department: Department
) -> None:
    indicator_id = await _indicator(client, plan_code)
    url = f"/v1/indicators/{indicator_id}/reports"
    lead = (await client.post(url, json={"value": 10}, headers=department("edu"))).json()
    hijack = await client.post(
        url, json={"value": 1, "supersedes": lead["id"]}, headers=department("town-a")
    )
    assert hijack.status_code == 403 and "only that department" in hijack.json()["detail"]
    assert await _reports(app, indicator_id) == 1
    own = await client.post(
        url, json={"value": 9, "supersedes": lead["id"]}, headers=department("edu")
    )
    assert own.status_code == 201


async def test_an_indicator_without_departments_takes_no_reports_yet(
    client: httpx.AsyncClient, app: FastAPI, plan_code: str, department: Department
) -> None:
    indicator_id = await _indicator(client, plan_code, lead_department=None, co_departments=[])
    response = await client.post(
        f"/v1/indicators/{indicator_id}/reports", json={"value": 1}, headers=department("edu")
    )
    assert response.status_code == 403 and "no lead or co-organising" in response.text
    assert await _reports(app, indicator_id) == 0


async def test_an_api_key_of_a_department_reports_for_that_department(
    client: httpx.AsyncClient, bare: httpx.AsyncClient, auth: SessionAuth, plan_code: str
) -> None:
    indicator_id = await _indicator(client, plan_code)
    key = await _new_key(client, auth, name="区教育局报送系统", roles=["handler"], org_unit="edu")
    as_key = {"X-API-Key": key["key"]}
    response = await bare.post(
        f"/v1/indicators/{indicator_id}/reports", json={"value": 3}, headers=as_key
    )
    assert response.status_code == 201, response.text
    assert response.json()["reported_by"] == f"api-key:{key['id']}"
    assert response.json()["department"] == "edu"


@pytest.mark.parametrize(
    ("org_unit", "lead", "co", "expected"),
    [
        ("edu", "edu", [], "edu"),
        ("town-a", "edu", ["town-a"], "town-a"),
        ("finance", "edu", ["town-a"], "responsible: edu, town-a"),
        (None, "edu", [], "names your department's org_unit"),
        ("edu", None, [], "no lead or co-organising department"),
    ],
)
def test_the_reporting_department_is_the_callers_and_must_be_responsible(
    org_unit: str | None, lead: str | None, co: list[str], expected: str
) -> None:
    indicator = Indicator(code="EDU-1", lead_department=lead, co_departments=co)
    reporter = Principal(subject="someone", roles=frozenset({Role.HANDLER}), org_unit=org_unit)
    if expected in (lead, *co):
        assert reporting_department(indicator, reporter) == expected
        return
    with pytest.raises(ProblemError) as refused:
        reporting_department(indicator, reporter)
    assert refused.value.status == 403 and expected in refused.value.detail
