"""The built-in token endpoint and its JWKS."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gov_common.security.issuer_hashes import MemoryPasswordHashStore, memory_hash_store
from gov_common.security.issuer_routes import Account, token_router
from gov_common.security.passwords import hash_secret, verify_secret
from gov_common.security.principal import Role
from gov_common.security.tokens import JwtVerifier, SigningKey, TokenIssuer, TokenSettings

ISSUER, AUDIENCE = "http://127.0.0.1:8101", "gov-suite"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    issuer = TokenIssuer(issuer=ISSUER, audience=AUDIENCE, keys=[SigningKey.generate()])
    accounts = [
        Account("city-hotline", hash_secret("s3cret-client"), (Role.SYSTEM_CLIENT,)),
        Account("li.hua", hash_secret("pa55word"), (Role.HANDLER,), "610203101", kind="person"),
    ]
    application = FastAPI()
    store = memory_hash_store(MemoryPasswordHashStore())
    application.include_router(token_router(issuer, accounts, ttl_s=900, hash_store=store))
    return application


def test_secret_hashes_verify_only_the_secret() -> None:
    stored = hash_secret("correct horse")
    assert verify_secret("correct horse", stored)
    assert not verify_secret("correct horse!", stored)
    assert not verify_secret("x", "plain-text")


async def test_clients_and_people_get_tokens_the_jwks_verifies(app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        jwks = (await client.get("/.well-known/jwks.json")).json()
        verifier = JwtVerifier(TokenSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks))

        basic = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("city-hotline", "s3cret-client"),
        )
        assert basic.status_code == 200 and basic.json()["token_type"] == "Bearer"
        assert (await verifier.principal(basic.json()["access_token"])).roles == {
            Role.SYSTEM_CLIENT
        }

        person = await client.post(
            "/oauth/token",
            data={"grant_type": "password", "username": "li.hua", "password": "pa55word"},
        )
        principal = await verifier.principal(person.json()["access_token"])
        assert (principal.subject, principal.org_unit) == ("li.hua", "610203101")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {
                "grant_type": "client_credentials",
                "client_id": "city-hotline",
                "client_secret": "no",
            },
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "password", "username": "li.hua", "password": "wrong"},
            400,
            "invalid_grant",
        ),
        (
            {"grant_type": "password", "username": "city-hotline", "password": "s3cret-client"},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "implicit"}, 400, "unsupported_grant_type"),
    ],
)
async def test_wrong_credentials_get_oauth_errors(
    app: FastAPI, form: dict[str, str], status: int, error: str
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        response = await client.post("/oauth/token", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_signing_keys_round_trip_through_their_setting() -> None:
    from gov_common.security.issuer_setup import encode_signing_key, parse_signing_keys

    keys = [SigningKey.generate("new"), SigningKey.generate("old")]
    parsed = parse_signing_keys(",".join(encode_signing_key(k) for k in keys))
    assert parsed == keys
    with pytest.raises(ValueError, match="kid:base64url"):
        parse_signing_keys("no-separator")


def test_demonstration_accounts_are_refused_outside_development(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gov_common.security.issuer_setup import load_accounts

    path = tmp_path / "accounts.yaml"
    path.write_text(
        "development_only: true\naccounts:\n"
        f"  - {{id: op, kind: person, roles: [operator], secret_hash: '{hash_secret('x')}'}}\n",
        encoding="utf-8",
    )
    assert [a.id for a in load_accounts(path, development=True)] == ["op"]
    with pytest.raises(ValueError, match="development-only"):
        load_accounts(path, development=False)
    path.write_text("accounts:\n  - {id: op, kind: robot, roles: [operator], secret_hash: x}\n")
    with pytest.raises(ValueError):
        load_accounts(path, development=True)
