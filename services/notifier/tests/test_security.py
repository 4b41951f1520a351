"""Who may do what in the notifier: the matrix from the policy, API keys, refused tokens, the
supervisor's org-unit scope, masked addresses, the access log, and addresses encrypted at rest."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from gov_common.security.access import PUBLIC_ROUTES, route_keys
from gov_common.security.principal import Role
from gov_common.security.tokens import SigningKey, TokenIssuer
from gov_common.testing import TestAuth as Auth
from notifier.config import Settings
from notifier.main import create_app
from notifier.security import POLICY

PATH_VALUES = {
    "recipient_id": str(uuid.UUID(int=1)),
    "template_id": str(uuid.UUID(int=2)),
    "rule_id": str(uuid.UUID(int=3)),
    "delivery_id": str(uuid.UUID(int=4)),
    "key_id": "0123456789abcdef",
}


def _call(client: httpx.AsyncClient, method: str, template: str, headers: dict[str, str]) -> Any:
    path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)
    body = {} if method in ("POST", "PUT") else None
    return client.request(method, path, json=body, headers=headers)


def test_every_route_is_in_the_policy_and_every_rule_is_a_route(app: FastAPI) -> None:
    assert POLICY.unlisted_routes(app) == []
    assert set(POLICY.rules) == set(route_keys(app)) - PUBLIC_ROUTES


@pytest.mark.parametrize("role", [*Role, None], ids=[*(r.value for r in Role), "anonymous"])
async def test_every_route_as_every_role(
    anonymous: httpx.AsyncClient, auth: Auth, role: Role | None
) -> None:
    """Allowed: not refused (404, 409, 422 … are fine); forbidden: 403; anonymous: 401."""
    headers = auth.headers(role.value) if role is not None else {}
    wrong = []
    for (method, path), allowed in POLICY.rules.items():
        response = await _call(anonymous, method, path, headers)
        if role is None:
            expected_ok = response.status_code == 401
        elif role in allowed:
            expected_ok = response.status_code not in (401, 403) and response.status_code < 500
        else:
            expected_ok = response.status_code == 403
        if not expected_ok:
            wrong.append((method, path, response.status_code, response.text[:200]))
        if response.status_code in (401, 403):
            assert response.headers["content-type"] == "application/problem+json"
    assert wrong == []


async def test_an_api_key_works_with_its_roles_until_it_is_revoked(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    created = await client.post(
        "/v1/api-keys", json={"name": "市12345平台", "roles": ["system_client"]}
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    as_system = {"X-API-Key": key}

    assert (await anonymous.get("/v1/deliveries", headers=as_system)).status_code == 200
    # Never from a query string (URLs end up in proxy logs): a 401 says where it goes.
    in_url = await anonymous.get("/v1/deliveries", params={"api_key": key})
    assert in_url.status_code == 401
    assert "query string is not accepted" in in_url.json()["detail"]
    assert (await anonymous.get("/v1/recipients", headers=as_system)).status_code == 403
    assert (await anonymous.get("/v1/rules", headers=as_system)).status_code == 403

    revoked = await client.delete(f"/v1/api-keys/{created.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert (await anonymous.get("/v1/deliveries", headers=as_system)).status_code == 401

    unknown = "gk_" + "0" * 16 + "_" + "A" * 43
    for bad in (unknown, "not-a-key", key[:-1] + ("B" if key[-1] != "B" else "C")):
        refused = await anonymous.get("/v1/deliveries", headers={"X-API-Key": bad})
        assert refused.status_code == 401, bad
    # No key's secret is ever listed.
    assert "key" not in (await client.get("/v1/api-keys")).json()[0]


@pytest.fixture
async def own_issuer_app(
    settings: Settings,
) -> AsyncIterator[tuple[FastAPI, TokenIssuer, SigningKey]]:
    """The app trusting an issuer of this test's own, whose key the test can misuse."""
    key = SigningKey.generate()
    issuer = TokenIssuer(issuer="https://idp.test.invalid", audience="notifier-test", keys=[key])
    trusting = settings.model_copy(
        update={
            "auth_issuer": "https://idp.test.invalid",
            "auth_audience": "notifier-test",
            "auth_jwks": orjson.dumps(issuer.jwks()).decode(),
        }
    )
    application = create_app(trusting)
    yield application, issuer, key
    await application.state.engine.dispose()


async def test_expired_foreign_and_wrongly_signed_tokens_are_refused(
    own_issuer_app: tuple[FastAPI, TokenIssuer, SigningKey],
) -> None:
    application, issuer, key = own_issuer_app
    admin = [Role.ADMIN]
    forged_key = SigningKey(kid=key.kid, private_pem=SigningKey.generate().private_pem)
    tokens = {
        "expired": issuer.issue("a", admin, now=int(time.time()) - 7200, ttl_s=600),
        "wrongly signed": TokenIssuer(
            issuer="https://idp.test.invalid", audience="notifier-test", keys=[forged_key]
        ).issue("a", admin),
        "unknown key": TokenIssuer(
            issuer="https://idp.test.invalid",
            audience="notifier-test",
            keys=[SigningKey.generate()],
        ).issue("a", admin),
        "other audience": TokenIssuer(
            issuer="https://idp.test.invalid", audience="targets-only", keys=[key]
        ).issue("a", admin),
        "other issuer": TokenIssuer(
            issuer="https://evil.test.invalid", audience="notifier-test", keys=[key]
        ).issue("a", admin),
        "garbage": "not.a.token",
    }
    transport = httpx.ASGITransport(application)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as http:
        good = await http.get(
            "/v1/rules", headers={"Authorization": f"Bearer {issuer.issue('a', admin)}"}
        )
        assert good.status_code == 200, good.text  # the same issuer's valid token is accepted
        for why, token in tokens.items():
            refused = await http.get("/v1/rules", headers={"Authorization": f"Bearer {token}"})
            assert refused.status_code == 401, (why, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"


TOWN = "610203104"  # a town office (镇办)

RECIPIENTS = {
    "town desk": {
        "kind": "group",
        "name": "陈炉镇信访办",
        "org_unit_id": TOWN,
        "phone": "+8613800001111",
        "email": "xfb@chenlu.example",
        "webhook_url": "https://chenlu.example/hooks/secret-path",
        "dingtalk_webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=tok123",
        "dingtalk_secret": "SECdingtalk-robot-secret",
    },
    "village": {
        "kind": "group",
        "name": "某村委会",
        "org_unit_id": TOWN + "201",
        "email": "cun@chenlu.example",
    },
    "other town": {
        "kind": "group",
        "name": "红土镇信访办",
        "org_unit_id": "610203105",
        "phone": "+8613800002222",
    },
    "district person": {
        "kind": "person",
        "name": "李督办",
        "user_id": "u-li",
        "email": "li@duban.example",
        "wecom_webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wk-secret",
    },
}
SECRETS = [
    "+8613800001111",
    "13800001111",
    "xfb@chenlu.example",
    "cun@chenlu.example",
    "+8613800002222",
    "li@duban.example",
    "secret-path",
    "tok123",
    "SECdingtalk-robot-secret",
    "wk-secret",
]


async def _register(client: httpx.AsyncClient) -> dict[str, str]:
    ids = {}
    for name, body in RECIPIENTS.items():
        created = await client.post("/v1/recipients", json=body)
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    return ids


async def test_addresses_and_robot_secrets_are_encrypted_at_rest(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _register(client)
    async with app.state.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM recipients"))).mappings().all()
    stored = orjson.dumps([dict(r) for r in rows], default=str).decode()
    assert len(rows) == len(RECIPIENTS)
    for secret in SECRETS:
        assert secret not in stored
    assert all(r["phone"] is None or r["phone"].startswith("v1.") for r in rows)


async def test_a_supervisor_sees_its_units_recipients_masked_and_an_admin_in_full_audited(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, auth: Auth
) -> None:
    ids = await _register(client)
    supervisor = auth.headers("supervisor", org_unit=TOWN, subject="sup-chenlu")

    listed = await anonymous.get("/v1/recipients", headers=supervisor)
    assert listed.status_code == 200, listed.text
    items = {i["name"]: i for i in listed.json()["items"]}
    assert set(items) == {"陈炉镇信访办", "某村委会"}  # its town and the village below it
    desk = items["陈炉镇信访办"]
    assert desk["phone"] == "138****1111"
    assert desk["email"] == "x***@chenlu.example"
    assert desk["webhook_url"] == "https://chenlu.example/***"
    assert desk["dingtalk_webhook_url"] == "https://oapi.dingtalk.com/***"
    assert desk["has_dingtalk_secret"] is True
    shown = (
        listed.text
        + (await anonymous.get(f"/v1/recipients/{ids['town desk']}", headers=supervisor)).text
    )
    for secret in SECRETS:
        assert secret not in shown

    # Another town's recipient, or one without a unit, does not exist for this supervisor.
    for other in ("other town", "district person"):
        hidden = await anonymous.get(f"/v1/recipients/{ids[other]}", headers=supervisor)
        assert hidden.status_code == 404
    # A district-level supervisor (no org unit) sees every recipient, still masked.
    district = await anonymous.get("/v1/recipients", headers=auth.headers("supervisor"))
    assert len(district.json()["items"]) == len(RECIPIENTS)
    assert "li@duban.example" not in district.text

    # Nobody reads the log by reading masked data: the supervisor's reads are not in it.
    before = (await client.get("/v1/audit/personal-data-access")).json()["items"]
    assert not [e for e in before if e["actor"] == "sup-chenlu"]

    full = await client.get(f"/v1/recipients/{ids['town desk']}")
    assert full.json()["phone"] == "+8613800001111"
    assert full.json()["email"] == "xfb@chenlu.example"
    assert "dingtalk_secret" not in full.json()  # never returned, not even to admins
    log = (await client.get("/v1/audit/personal-data-access")).json()["items"]
    [entry] = [e for e in log if e["resource_id"] == ids["town desk"] and e["action"] == "read"]
    assert entry["actor"] == "test-admin" and entry["fields"] == ["phone", "email"]
    assert entry["resource_type"] == "recipient" and entry["roles"] == ["admin"]


async def test_read_only_may_read_rules_and_templates_but_not_recipients(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, auth: Auth
) -> None:
    await _register(client)
    reader = auth.headers("read_only")
    assert (await anonymous.get("/v1/rules", headers=reader)).status_code == 200
    assert (await anonymous.get("/v1/templates", headers=reader)).status_code == 200
    refused = await anonymous.get("/v1/recipients", headers=reader)
    assert refused.status_code == 403
    assert "+8613800001111" not in refused.text
    # Refused mutations change nothing.
    supervisor = auth.headers("supervisor")
    assert (
        await anonymous.post("/v1/recipients", json=RECIPIENTS["village"], headers=supervisor)
    ).status_code == 403
    assert len((await client.get("/v1/recipients")).json()["items"]) == len(RECIPIENTS)
