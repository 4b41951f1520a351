"""Tokens, personal-data encryption and blind indexes, and the access policy."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request

from gov_common.problems import install_problem_handlers
from gov_common.security.access import (
    ALL_ROLES,
    AccessPolicy,
    Authenticator,
    enforce,
    route_keys,
)
from gov_common.security.crypto import (
    BlindIndex,
    DecryptionError,
    FieldCipher,
    mask_id_number,
    mask_name,
    mask_phone,
    new_key,
    normalise_phone,
    parse_keyring,
)
from gov_common.security.principal import Role
from gov_common.security.tokens import (
    InvalidTokenError,
    JwtVerifier,
    SigningKey,
    TokenIssuer,
    TokenSettings,
)

ISSUER, AUDIENCE = "https://auth.yintai.example", "gov-suite"


@pytest.fixture(scope="module")
def keys() -> tuple[SigningKey, SigningKey]:
    return SigningKey.generate("k-2026"), SigningKey.generate("k-2027")


def _issuer(key: SigningKey, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> TokenIssuer:
    return TokenIssuer(issuer=issuer, audience=audience, keys=[key])


def _verifier(*published: SigningKey) -> JwtVerifier:
    jwks = TokenIssuer(issuer=ISSUER, audience=AUDIENCE, keys=list(published)).jwks()
    return JwtVerifier(TokenSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks))


async def test_a_valid_token_gives_its_principal(keys: tuple[SigningKey, SigningKey]) -> None:
    token = _issuer(keys[0]).issue("u-17", [Role.HANDLER], org_unit="610203101")
    principal = await _verifier(keys[0]).principal(token)
    assert principal.subject == "u-17"
    assert principal.roles == {Role.HANDLER}
    assert principal.org_unit == "610203101"


async def test_rotation_old_and_new_keys_verify_while_both_are_published(
    keys: tuple[SigningKey, SigningKey],
) -> None:
    old, new = keys
    verifier = _verifier(new, old)
    assert (await verifier.principal(_issuer(old).issue("a", [Role.ADMIN]))).subject == "a"
    assert (await verifier.principal(_issuer(new).issue("b", [Role.ADMIN]))).subject == "b"
    with pytest.raises(InvalidTokenError, match="signing key not found"):
        await _verifier(new).principal(_issuer(old).issue("a", [Role.ADMIN]))


async def test_a_verified_token_is_remembered_briefly_and_never_past_its_expiry(
    keys: tuple[SigningKey, SigningKey],
) -> None:
    jwks = TokenIssuer(issuer=ISSUER, audience=AUDIENCE, keys=[keys[0]]).jwks()
    now = [float(int(time.time()))]
    verified: list[str] = []

    class Counting(JwtVerifier):
        async def _verify(self, token: str) -> tuple[dict[str, Any], float]:
            verified.append(token)
            return await super()._verify(token)

    verifier = Counting(
        TokenSettings(issuer=ISSUER, audience=AUDIENCE, jwks=jwks, leeway_s=0),
        remember_s=30,
        clock=lambda: now[0],
    )
    short = _issuer(keys[0]).issue("u-1", [Role.OPERATOR], now=int(now[0]), ttl_s=60)
    assert (await verifier.principal(short)).subject == "u-1"
    assert (await verifier.principal(short)).subject == "u-1"
    assert len(verified) == 1  # the second request did not check the signature again
    now[0] += 31  # past what is remembered: verified again
    assert (await verifier.principal(short)).subject == "u-1" and len(verified) == 2
    # Remembered from +31 s until its exp (+60 s), not for 30 s more: at +61 s it is checked
    # again (and refused once the real clock passes its exp).
    now[0] += 29
    await verifier.principal(short)
    assert len(verified) == 2
    now[0] += 1
    await verifier.principal(short)
    assert len(verified) == 3
    other = _issuer(keys[0]).issue("u-2", [Role.OPERATOR])
    assert (await verifier.principal(other)).subject == "u-2"  # another token is its own entry


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda k: _issuer(k).issue("x", [Role.ADMIN], now=int(time.time()) - 7200, ttl_s=60),
            "expired",
        ),
        (
            lambda k: _issuer(k, audience="someone-else").issue("x", [Role.ADMIN]),
            "another audience",
        ),
        (
            lambda k: _issuer(k, issuer="https://evil.example").issue("x", [Role.ADMIN]),
            "another issuer",
        ),
        (
            lambda k: _issuer(SigningKey(k.kid, SigningKey.generate().private_pem)).issue("x", []),
            "signature",
        ),
        (
            lambda k: jwt.encode(
                {"sub": "x", "aud": AUDIENCE, "iss": ISSUER, "exp": 9e9, "iat": 1},
                "s" * 32,
                "HS256",
            ),
            "algorithm",
        ),
        (lambda k: "not.a.token", "malformed"),
    ],
)
async def test_untrustworthy_tokens_are_refused(
    keys: tuple[SigningKey, SigningKey], make, reason: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidTokenError, match=reason):
        await _verifier(keys[0]).principal(make(keys[0]))


def test_field_cipher_round_trips_binds_context_and_rotates() -> None:
    ring = parse_keyring(f"2026:{new_key()}")
    cipher = FieldCipher(ring, active="2026")
    sealed = cipher.encrypt("13912345678", context="cases/1/phone")
    assert "13912345678" not in sealed and sealed.startswith("v1.2026.")
    assert cipher.decrypt(sealed, context="cases/1/phone") == "13912345678"
    with pytest.raises(DecryptionError):
        cipher.decrypt(sealed, context="cases/2/phone")  # copied to another row

    rotated_ring = {**ring, **parse_keyring(f"2027:{new_key()}")}
    rotated = FieldCipher(rotated_ring, active="2027")
    assert rotated.decrypt(sealed, context="cases/1/phone") == "13912345678"  # old rows still read
    assert rotated.needs_rotation(sealed)
    resealed = rotated.rotate(sealed, context="cases/1/phone")
    assert resealed.startswith("v1.2027.") and not rotated.needs_rotation(resealed)
    with pytest.raises(DecryptionError, match="unknown key"):
        FieldCipher(parse_keyring(f"2027:{new_key()}"), active="2027").decrypt(
            sealed, context="cases/1/phone"
        )


def test_blind_index_matches_normalised_phones_only_with_the_same_key() -> None:
    index = BlindIndex(b"k" * 32)
    assert normalise_phone("+86 139-1234-5678") == normalise_phone("13912345678")
    a = index.digest("phone", normalise_phone("+86 139-1234-5678"))
    assert a == index.digest("phone", "13912345678")
    assert a != BlindIndex(b"j" * 32).digest("phone", "13912345678")
    assert "13912345678" not in a


def test_masks_keep_just_enough() -> None:
    assert mask_phone("13912345678") == "139****5678"
    assert mask_id_number("61020319800101123X") == "610203********123X"
    assert mask_name("张三") == "张*"


def _policy_app(keys: tuple[SigningKey, SigningKey]) -> tuple[FastAPI, AccessPolicy]:
    router = APIRouter()

    @router.get("/v1/cases")
    async def list_cases(request: Request) -> dict[str, str]:
        return {"who": request.state.principal.subject}

    @router.post("/v1/cases")
    async def create_case() -> dict[str, str]:
        return {}

    @router.get("/v1/unlisted")
    async def unlisted() -> dict[str, str]:
        return {}

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {}

    policy = AccessPolicy(
        {
            ("GET", "/v1/cases"): ALL_ROLES,
            ("POST", "/v1/cases"): frozenset({Role.OPERATOR, Role.SYSTEM_CLIENT}),
        }
    )
    authenticator = Authenticator(_verifier(keys[0]))

    async def guard(request: Request) -> None:
        await enforce(request, None, policy, authenticator)  # type: ignore[arg-type]

    app = FastAPI(dependencies=[Depends(guard)])
    install_problem_handlers(app)
    app.include_router(router)
    return app, policy


async def test_the_policy_answers_401_403_or_lets_through(
    keys: tuple[SigningKey, SigningKey],
) -> None:
    app, policy = _policy_app(keys)
    assert policy.unlisted_routes(app) == [("GET", "/v1/unlisted")]
    token = {r: _issuer(keys[0]).issue(f"user-{r.value}", [r]) for r in Role}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        assert (await client.get("/healthz")).status_code == 200
        for method, path in route_keys(app):
            if policy.is_public(method, path):
                continue
            anonymous = await client.request(method, path)
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            allowed = policy.roles_for(method, path) or frozenset()
            for role in Role:
                response = await client.request(
                    method, path, headers={"Authorization": f"Bearer {token[role]}"}
                )
                assert response.status_code == (200 if role in allowed else 403), (
                    method,
                    path,
                    role,
                )
        bad = await client.get("/v1/cases", headers={"Authorization": "Bearer not.a.token"})
        assert bad.status_code == 401 and bad.json()["detail"] == "malformed token"
