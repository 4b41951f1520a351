"""Who may call what: the access matrix, API keys, tokens that are refused, and the built-in
issuer's sign-in.

The matrix is generated from the policy (``petitions_api.security.POLICY``) and the app's own
routes: every route is called as every role and anonymously.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from fastapi import FastAPI
from pydantic import SecretStr

from gov_common.db import unit_of_work
from gov_common.security.access import ALL_ROLES, route_keys
from gov_common.security.issuer_setup import encode_signing_key
from gov_common.security.passwords import hash_secret
from gov_common.security.principal import Role
from gov_common.security.tokens import SigningKey, TokenIssuer
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.config import Settings
from petitions_api.db import IssuerPasswordHash
from petitions_api.main import create_app
from petitions_api.security import PERSONAL_DATA_READERS, POLICY

from .helpers import hotline, petition

pytestmark = pytest.mark.integration

# Valid-looking path parameters: an allowed call may then answer 404 or 422, never 401/403.
PATH_VALUES = {
    "case_id": str(uuid.UUID(int=7)),
    "fmt": "json",
    "service_code": "HEATING",
    "service_request_id": "RX2026-99999999",
    "key_id": "0123456789abcdef",
    "year": "2099",
}
CHENLU = "610203100"


def _path(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], template)


def _role_headers(auth: SessionAuth, role: Role) -> dict[str, str]:
    # A handler works in a town; the other roles are district-level (no org unit).
    org_unit = CHENLU if role is Role.HANDLER else None
    return auth.headers(role.value, org_unit=org_unit)


def test_the_policy_names_exactly_the_routes_of_the_app(app: FastAPI) -> None:
    assert POLICY.unlisted_routes(app) == []
    assert set(POLICY.rules) - set(route_keys(app)) == set(), "policy names routes that are gone"


def test_the_policy_follows_the_role_semantics_of_this_service() -> None:
    """The table against the rules in its docstring, so that a slip in one line is caught (the
    matrix below only proves that the app enforces whatever the table says)."""
    for key, roles in POLICY.rules.items():
        assert Role.ADMIN in roles, key

    def may(role: Role, method: str | None = None) -> set[tuple[str, str]]:
        return {k for k, roles in POLICY.rules.items() if role in roles and method in (None, k[0])}

    mutations = {k for k in POLICY.rules if k[0] != "GET"}
    actions = "/v1/cases/{case_id}/actions/"
    assert may(Role.READ_ONLY) & mutations == set()
    assert may(Role.PLANNER) & mutations == set()
    assert may(Role.READ_ONLY) == may(Role.PLANNER)
    assert all(not path.startswith("/v1/cases") for _, path in may(Role.READ_ONLY))
    assert may(Role.SYSTEM_CLIENT) & mutations == {
        ("POST", "/v1/cases"),
        ("POST", "/open311/v2/requests.{fmt}"),
    }
    assert {p.removeprefix(actions) for _, p in may(Role.HANDLER, "POST")} == {
        "accept",  # a 信访 case is accepted by the organ it was forwarded to (第二十二条)
        "decline",
        "take",
        "return",
        "request_extension",
        "reply",
    }
    assert {p.removeprefix(actions) for _, p in may(Role.SUPERVISOR, "POST") if actions in p} == {
        "supervise",
        "escalate",
        "extend",
    }
    assert {p.removeprefix(actions) for _, p in may(Role.UNIT_HEAD, "POST")} == {
        "approve_extension",  # 第三十四条: 经本机关、单位负责人批准
        "refuse_extension",
    }
    operator_actions = {p.removeprefix(actions) for _, p in may(Role.OPERATOR) if actions in p}
    assert operator_actions == {
        "accept",
        "decline",
        "dispatch",
        "rate",
        "close",
        "reopen",
        "request_review",
        "approve_return",
        "refuse_return",
    }
    admin_only = {k for k, roles in POLICY.rules.items() if roles == {Role.ADMIN}}
    assert admin_only == {
        ("POST", "/v1/api-keys"),
        ("GET", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys/{key_id}"),
        ("GET", "/v1/audit/personal-data-access"),
        ("GET", "/v1/audit/personal-data-keys"),  # what is still under an old key
        ("PUT", "/v1/calendar/{year}"),  # the State Council's holiday notice, entered
    }
    assert Role.PLANNER not in PERSONAL_DATA_READERS
    assert Role.READ_ONLY not in PERSONAL_DATA_READERS
    assert Role.SYSTEM_CLIENT not in PERSONAL_DATA_READERS


def _refusal_shape(template: str, response: httpx.Response) -> bool:
    if template.startswith("/open311/"):
        return bool(response.json()[0]["code"] == response.status_code)
    return bool(response.headers["content-type"] == "application/problem+json")


@pytest.mark.parametrize(("method", "template"), sorted(POLICY.rules), ids=" ".join)
async def test_every_role_gets_what_the_matrix_says(
    app: FastAPI, auth: SessionAuth, method: str, template: str
) -> None:
    allowed = POLICY.rules[(method, template)]
    path = _path(template)
    wrong: list[str] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://petitions"
    ) as http:
        anonymous = await http.request(method, path)
        if anonymous.status_code != 401 or not _refusal_shape(template, anonymous):
            wrong.append(f"anonymous: {anonymous.status_code}")
        for role in Role:
            response = await http.request(method, path, headers=_role_headers(auth, role))
            if role in allowed and response.status_code in (401, 403):
                wrong.append(f"{role} refused: {response.status_code} {response.text}")
            if role not in allowed and response.status_code != 403:
                wrong.append(f"{role} not forbidden: {response.status_code}")
            if response.status_code in (401, 403) and not _refusal_shape(template, response):
                wrong.append(f"{role}: refusal not in this route's error format")
    assert wrong == []


async def test_the_calls_the_first_slice_relies_on_are_allowed(
    bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    created = await bare.post("/v1/cases", json=hotline(), headers=auth.headers("operator"))
    assert created.status_code == 201, created.text


# --- API keys ----------------------------------------------------------------------------


async def _new_key(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_system_client_key_files_tickets_until_it_is_revoked(
    client: httpx.AsyncClient, bare: httpx.AsyncClient
) -> None:
    key = await _new_key(client, name="市12345平台", roles=["system_client"])
    as_system = {"X-API-Key": key["key"]}
    ticket = await bare.post("/v1/cases", json=hotline(), headers=as_system)
    assert ticket.status_code == 201, ticket.text
    timeline = (await client.get(f"/v1/cases/{ticket.json()['id']}/timeline")).json()
    assert timeline[0]["actor"] == f"api-key:{key['id']}"
    # 信访 cases are registered by the registry, not by another system.
    refused = await bare.post("/v1/cases", json=petition(), headers=as_system)
    assert refused.status_code == 403 and "信访" in refused.json()["detail"]
    assert (await bare.get("/v1/cases", headers=as_system)).status_code == 403
    listed = await client.get("/v1/api-keys")
    assert key["id"] in [k["id"] for k in listed.json()]
    assert all("key" not in k and "secret_sha256" not in k for k in listed.json())

    revoked = await client.delete(f"/v1/api-keys/{key['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    after = await bare.post("/v1/cases", json=hotline(), headers=as_system)
    assert after.status_code == 401 and "unknown or revoked" in after.json()["detail"]


@pytest.mark.parametrize("presented", ["gk_0123456789abcdef_" + "A" * 43, "not-a-key"])
async def test_unknown_api_keys_are_refused(bare: httpx.AsyncClient, presented: str) -> None:
    response = await bare.get("/v1/categories", headers={"X-API-Key": presented})
    assert response.status_code == 401


async def test_idempotency_keys_belong_to_their_caller(
    bare: httpx.AsyncClient, auth: SessionAuth
) -> None:
    body, key = hotline(), {"Idempotency-Key": f"call-{uuid.uuid4().hex}"}
    one = auth.headers("operator", subject="operator-a")
    other = auth.headers("operator", subject="operator-b")
    first = await bare.post("/v1/cases", json=body, headers={**one, **key})
    replay = await bare.post("/v1/cases", json=body, headers={**one, **key})
    theirs = await bare.post("/v1/cases", json=body, headers={**other, **key})
    assert first.status_code == replay.status_code == theirs.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert theirs.json()["id"] != first.json()["id"]  # another caller's key is its own


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
        transport=httpx.ASGITransport(app), base_url="http://petitions"
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
    impostor = SigningKey(key.kid, SigningKey.generate().private_pem)  # same kid, other key
    cases = {
        "good": (_token(key), 200, None),
        "expired": (_token(key, now=1_000_000, ttl_s=60), 401, "expired"),
        "wrongly signed": (_token(impostor), 401, "signature"),
        "other audience": (_token(key, audience="another-suite"), 401, "audience"),
        "other issuer": (_token(key, issuer="https://evil.test"), 401, "issuer"),
        "unknown key": (_token(SigningKey.generate()), 401, "signing key"),
        "garbage": ("not.a.token", 401, None),
    }
    for name, (token, status, words) in cases.items():
        response = await http.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, (name, response.text)
        if words:
            assert words in response.json()["detail"], name


# --- the built-in issuer -----------------------------------------------------------------


@pytest.fixture
def accounts_file(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.yaml"
    accounts = [
        {
            "id": "op-wang",
            "kind": "person",
            "roles": ["operator"],
            "secret_hash": hash_secret("wang-secret"),
        },
        {
            "id": "handler-chenlu",
            "kind": "person",
            "roles": ["handler"],
            "org_unit": CHENLU,
            "secret_hash": hash_secret("chenlu-secret"),
        },
        {
            "id": "city-12345",
            "kind": "client",
            "roles": ["system_client"],
            "secret_hash": hash_secret("client-secret"),
        },
    ]
    path.write_text(yaml.safe_dump({"accounts": accounts}, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
async def issuing(
    settings: Settings, accounts_file: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The app with its own issuer and no other: it verifies the tokens it signs itself."""
    app = create_app(
        settings.model_copy(
            update={
                "auth_jwks": None,
                "auth_jwks_url": None,
                "auth_issuer": "http://petitions",
                "auth_accounts_file": accounts_file,
                "auth_signing_keys": None,  # test: a key generated at start
            }
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://petitions"
    ) as http:
        yield http, app
    await app.state.engine.dispose()


async def test_people_and_clients_sign_in_and_the_service_accepts_their_tokens(
    issuing: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    http, _ = issuing
    person = await http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "op-wang", "password": "wang-secret"},
    )
    assert person.status_code == 200, person.text
    assert person.json()["token_type"] == "Bearer" and person.json()["expires_in"] == 3600
    as_operator = {"Authorization": f"Bearer {person.json()['access_token']}"}
    created = await http.post("/v1/cases", json=petition(), headers=as_operator)
    assert created.status_code == 201, created.text
    timeline = await http.get(f"/v1/cases/{created.json()['id']}/timeline", headers=as_operator)
    assert timeline.json()[0]["actor"] == "op-wang"

    machine = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("city-12345", "client-secret"),  # HTTP Basic, as RFC 6749 prefers
    )
    assert machine.status_code == 200, machine.text
    as_client = {"Authorization": f"Bearer {machine.json()['access_token']}"}
    assert (await http.post("/v1/cases", json=hotline(), headers=as_client)).status_code == 201
    assert (await http.get("/v1/cases", headers=as_client)).status_code == 403  # its role

    handler = await http.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "handler-chenlu", "password": "chenlu-secret"},
    )
    as_handler = {"Authorization": f"Bearer {handler.json()['access_token']}"}
    # The org unit travels in the token: the 城关 petition is not this town's.
    read = await http.get(f"/v1/cases/{created.json()['id']}", headers=as_handler)
    assert read.status_code == 404

    jwks = (await http.get("/.well-known/jwks.json")).json()
    assert [k["alg"] for k in jwks["keys"]] == ["ES256"] and "d" not in jwks["keys"][0]


async def test_wrong_credentials_get_no_token(issuing: tuple[httpx.AsyncClient, FastAPI]) -> None:
    http, _ = issuing
    for data, status in [
        ({"grant_type": "password", "username": "op-wang", "password": "guess"}, 400),
        ({"grant_type": "password", "username": "nobody", "password": "x"}, 400),
        ({"grant_type": "client_credentials", "client_id": "city-12345"}, 401),
        ({"grant_type": "client_credentials", "client_id": "op-wang", "client_secret": "x"}, 401),
        ({"grant_type": "implicit"}, 400),
    ]:
        response = await http.post("/oauth/token", data=data)
        assert response.status_code == status, (data, response.text)
        assert "access_token" not in response.json()


# The first format of the issuer's hashes (hashlib.scrypt, N=2^14): password "operator-demo".
LEGACY_SCRYPT = "scrypt$DYw8UFZsz+dUOjO8UDzrmg==$YsuZwFEf/fTY76sB2YBTjVGB2omloqRXMVDwviTb12A="


async def _stored_hash(app: FastAPI, account_id: str) -> tuple[str, str] | None:
    async with unit_of_work(app.state.sessions) as session:
        row = await session.get(IssuerPasswordHash, ("person", account_id))
        return (row.secret_hash, row.replaces_sha256) if row is not None else None


async def test_an_old_scrypt_hash_signs_in_once_and_is_replaced_in_the_database(
    settings: Settings, tmp_path: Path
) -> None:
    account_id = f"legacy-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "accounts.yaml"

    def write(secret_hash: str) -> None:
        entry = {"id": account_id, "kind": "person", "roles": ["operator"]}
        path.write_text(yaml.safe_dump({"accounts": [{**entry, "secret_hash": secret_hash}]}))

    def issuing_app() -> FastAPI:
        return create_app(
            settings.model_copy(
                update={
                    "auth_jwks": None,
                    "auth_jwks_url": None,
                    "auth_accounts_file": path,
                    "auth_signing_keys": None,
                }
            )
        )

    async def sign_in(app: FastAPI, password: str) -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app), base_url="http://petitions"
        ) as http:
            form = {"grant_type": "password", "username": account_id, "password": password}
            return await http.post("/oauth/token", data=form)

    write(LEGACY_SCRYPT)
    app = issuing_app()
    try:
        assert (await sign_in(app, "wrong")).status_code == 400
        assert await _stored_hash(app, account_id) is None  # a failed sign-in stores nothing
        assert (await sign_in(app, "operator-demo")).status_code == 200
        stored = await _stored_hash(app, account_id)
        assert stored is not None
        assert stored[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert stored[1] == hashlib.sha256(LEGACY_SCRYPT.encode()).hexdigest()
    finally:
        await app.state.engine.dispose()

    # Another replica (or the next start) checks against the stored Argon2id hash.
    second = issuing_app()
    try:
        assert (await sign_in(second, "operator-demo")).status_code == 200
        assert await _stored_hash(second, account_id) == stored  # not rehashed again
        assert (await sign_in(second, "wrong")).json() == {
            "error": "invalid_grant",
            "error_description": "unknown user or wrong password",
        }
    finally:
        await second.state.engine.dispose()

    # An operator who puts a new hash in the file sets the password: the file wins again.
    write(hash_secret("new-password"))
    third = issuing_app()
    try:
        assert (await sign_in(third, "operator-demo")).status_code == 400
        assert (await sign_in(third, "new-password")).status_code == 200
        assert await _stored_hash(third, account_id) == stored  # untouched, and unused
    finally:
        await third.state.engine.dispose()


async def test_configured_signing_keys_sign_and_all_of_them_are_published(
    settings: Settings, accounts_file: Path
) -> None:
    current, previous = SigningKey.generate("k2"), SigningKey.generate("k1")
    spec = f"{encode_signing_key(current)},{encode_signing_key(previous)}"
    app = create_app(
        settings.model_copy(
            update={
                "auth_jwks": None,
                "auth_accounts_file": accounts_file,
                "auth_signing_keys": SecretStr(spec),
            }
        )
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://petitions"
    ) as http:
        jwks = (await http.get("/.well-known/jwks.json")).json()
        token = (
            await http.post(
                "/oauth/token",
                data={"grant_type": "password", "username": "op-wang", "password": "wang-secret"},
            )
        ).json()["access_token"]
        listed = await http.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})
    await app.state.engine.dispose()
    assert [k["kid"] for k in jwks["keys"]] == ["k2", "k1"]
    assert listed.status_code == 200


def _production(settings: Settings, **changes: Any) -> Settings:
    from gov_common.security.crypto import new_key

    return Settings.model_validate(
        {
            **settings.model_dump(by_alias=True, exclude={"auth_signing_keys", "pii_keys"}),
            "GOV_ENVIRONMENT": "production",
            "GOV_PII_KEYS": f"k1:{new_key()}",
            "GOV_PII_ACTIVE_KEY": "k1",
            "GOV_PII_INDEX_KEY": new_key() + new_key(),
            "GOV_AUTH_JWKS": None,
            **changes,
        }
    )


async def test_production_runs_no_issuer_without_signing_keys(settings: Settings) -> None:
    app = create_app(_production(settings))
    routes = {getattr(r, "path", None) for r in app.routes}
    await app.state.engine.dispose()
    assert "/oauth/token" not in routes and "/.well-known/jwks.json" not in routes


def test_production_refuses_the_demonstration_accounts(settings: Settings) -> None:
    demo = Path(__file__).resolve().parents[3] / "deploy" / "local" / "demo-accounts.yaml"
    key = encode_signing_key(SigningKey.generate())
    with pytest.raises(ValueError, match="development-only"):
        create_app(
            _production(settings, GOV_AUTH_ACCOUNTS_FILE=str(demo), GOV_AUTH_SIGNING_KEYS=key)
        )


def test_every_role_has_a_meaning_here() -> None:
    used = {role for roles in POLICY.rules.values() for role in roles}
    assert used == ALL_ROLES
