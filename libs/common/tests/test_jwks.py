"""Keys from a JWKS URL: trusted for a bounded time, fetched again for unknown kids (rate
limited), fetched without blocking the event loop, kept through a short issuer outage.

The JWKS is served by a real HTTP server (uvicorn) running in the test's own event loop: a
fetch that blocked the loop would never be answered. Time is the verifier's injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from gov_common.problems import install_problem_handlers
from gov_common.security.access import ALL_ROLES, AccessPolicy, Authenticator, enforce
from gov_common.security.principal import Role
from gov_common.security.setup import jwt_verifier
from gov_common.security.tokens import (
    InvalidTokenError,
    JwtVerifier,
    KeysUnavailableError,
    SigningKey,
    TokenIssuer,
    TokenSettings,
)
from gov_common.settings import ServiceSettings

ISSUER, AUDIENCE = "https://auth.yintai.example", "gov-suite"
TTL, MIN_REFETCH = 300.0, 30.0


class Issuer:
    """The identity provider: what its JWKS URL serves right now."""

    def __init__(self, *published: SigningKey) -> None:
        self.published = list(published)
        self.failing = False
        self.requests = 0
        # When set, a request waits for ``gate`` after telling ``entered``.
        self.entered: asyncio.Event | None = None
        self.gate: asyncio.Event | None = None

    def token(self, key: SigningKey, subject: str = "u-1") -> str:
        return TokenIssuer(issuer=ISSUER, audience=AUDIENCE, keys=[key]).issue(
            subject, [Role.HANDLER]
        )

    async def jwks(self, request: StarletteRequest) -> JSONResponse:
        self.requests += 1
        if self.entered is not None and self.gate is not None:
            self.entered.set()
            await self.gate.wait()
        if self.failing:
            return JSONResponse({"error": "maintenance"}, status_code=503)
        if not self.published:
            return JSONResponse({"keys": []})
        return JSONResponse(
            TokenIssuer(issuer=ISSUER, audience=AUDIENCE, keys=self.published).jwks()
        )


class _QuietServer(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:  # leave pytest's signal handlers alone
        with nullcontext():
            yield


@pytest.fixture
def keys() -> tuple[SigningKey, SigningKey]:
    return SigningKey.generate("key-a"), SigningKey.generate("key-b")


@pytest.fixture
async def issuer(keys: tuple[SigningKey, SigningKey]) -> AsyncIterator[tuple[Issuer, str]]:
    served = Issuer(*keys)
    app = Starlette(routes=[Route("/.well-known/jwks.json", served.jwks)])
    server = _QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the JWKS server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield served, f"http://127.0.0.1:{port}/.well-known/jwks.json"
    finally:
        if served.gate is not None:
            served.gate.set()
        server.should_exit = True
        await task


class Clock:
    def __init__(self) -> None:
        import time

        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def _verifier(url: str, clock: Clock, **changes: Any) -> JwtVerifier:
    settings = TokenSettings(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_url=url,
        jwks_ttl_s=changes.pop("ttl", TTL),
        jwks_min_refetch_s=changes.pop("min_refetch", MIN_REFETCH),
        jwks_timeout_s=changes.pop("timeout", 5.0),
    )
    return JwtVerifier(settings, clock=clock, **changes)


def _app(verifier: JwtVerifier) -> FastAPI:
    """A service whose every route needs a bearer token, as the services enforce it."""
    router = APIRouter()

    @router.get("/v1/cases")
    async def cases(request: Request) -> dict[str, str]:
        return {"who": request.state.principal.subject}

    policy = AccessPolicy({("GET", "/v1/cases"): ALL_ROLES})
    authenticator = Authenticator(verifier)

    async def guard(request: Request) -> None:
        await enforce(request, None, policy, authenticator)  # type: ignore[arg-type]

    app = FastAPI(dependencies=[Depends(guard)])
    install_problem_handlers(app)
    app.include_router(router)
    return app


async def _call(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/cases", headers={"Authorization": f"Bearer {token}"})


async def test_a_key_dropped_from_the_jwks_is_refused_within_the_cache_lifetime(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    served, url = issuer
    key_a, key_b = keys
    clock = Clock()
    verifier = _verifier(url, clock)
    token_a, token_b = served.token(key_a, "user-a"), served.token(key_b, "user-b")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(_app(verifier)), base_url="http://t"
    ) as client:
        assert (await _call(client, token_a)).json() == {"who": "user-a"}
        assert (await _call(client, token_b)).json() == {"who": "user-b"}
        assert served.requests == 1  # one fetch serves both keys

        served.published = [key_b]  # step "remove the old key" of a rotation
        # Until the cache is due again, the cached set (and token A) still holds.
        clock.now += TTL / 2 - 1
        assert (await _call(client, token_a)).status_code == 200
        assert served.requests == 1
        # Within the documented lifetime (GOV_AUTH_JWKS_CACHE_TTL_S) it is gone everywhere,
        # though token A was verified (and remembered) a moment ago.
        clock.now += TTL / 2 + 1
        refused = await _call(client, token_a)
        assert refused.status_code == 401, refused.text
        assert refused.json()["detail"] == "signing key not found"
        assert (await _call(client, token_b)).json() == {"who": "user-b"}
        assert served.requests == 2


async def test_a_remembered_token_is_not_trusted_past_its_key(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    """Remembering verified tokens (30 s) must not stretch a key's trust: a token verified just
    before the key set's lifetime ends is checked again right after it."""
    served, url = issuer
    clock = Clock()
    verifier = _verifier(url, clock, remember_s=30.0)
    token_a = served.token(keys[0])
    assert (await verifier.principal(token_a)).subject == "u-1"
    served.failing = True  # the issuer cannot confirm the key any more
    clock.now += TTL - 5
    assert (await verifier.principal(token_a)).subject == "u-1"  # cached set, not expired
    clock.now += 6  # the set expired; the token would be remembered for 24 s more
    with pytest.raises(KeysUnavailableError):
        await verifier.principal(token_a)


async def test_an_issuer_outage_keeps_the_cached_keys_until_they_expire_and_says_so(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    served, url = issuer
    clock = Clock()
    start = clock.now
    verifier = _verifier(url, clock, remember_s=0)
    token = served.token(keys[0])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(_app(verifier)), base_url="http://t"
    ) as client:
        assert (await _call(client, token)).status_code == 200
        served.failing = True
        clock.now += TTL / 2
        with structlog.testing.capture_logs() as logged:
            assert (await _call(client, token)).status_code == 200  # the fetch failed
        assert served.requests == 2
        [failed] = [e for e in logged if e["event"] == "auth.jwks_fetch_failed"]
        assert failed["log_level"] == "warning" and failed["url"] == url
        assert "503" in failed["error"]
        assert failed["cached_keys"] == ["key-a", "key-b"]
        assert failed["trusted_for_s"] == TTL / 2
        # A failing issuer is asked at most once per GOV_AUTH_JWKS_MIN_REFETCH_S.
        clock.now += MIN_REFETCH - 1
        assert (await _call(client, token)).status_code == 200
        assert served.requests == 2
        # Past the lifetime nothing vouches for the keys: 503, not a verdict on the token.
        clock.now = start + TTL + 1
        with structlog.testing.capture_logs() as logged:
            unavailable = await _call(client, token)
        assert unavailable.status_code == 503, unavailable.text
        assert unavailable.headers["retry-after"]
        assert "signing keys cannot be fetched" in unavailable.json()["detail"]
        assert [e["trusted_for_s"] for e in logged if e["event"] == "auth.jwks_fetch_failed"] == [0]
        # The issuer is back: the next fetch (once allowed) restores service.
        served.failing = False
        clock.now += MIN_REFETCH
        assert (await _call(client, token)).status_code == 200


async def test_an_unknown_kid_fetches_again_at_most_once_per_interval(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    served, url = issuer
    key_a, key_b = keys
    served.published = [key_a]
    clock = Clock()
    verifier = _verifier(url, clock)
    assert (await verifier.principal(served.token(key_a))).subject == "u-1"
    assert served.requests == 1

    # Forged kids, one every 3 s for a minute: refused, and the issuer is asked once per
    # GOV_AUTH_JWKS_MIN_REFETCH_S (30 s), not once per token.
    for n in range(20):
        forged = SigningKey.generate(f"forged-{n}")
        with pytest.raises(InvalidTokenError, match="signing key not found"):
            await verifier.principal(served.token(forged))
        clock.now += 3
    assert served.requests == 2  # at +0 (token A) and +30

    # A new key (rotation step 1) is found by the next allowed fetch, without waiting for
    # the cache to expire.
    served.published = [key_a, key_b]
    clock.now += MIN_REFETCH
    assert (await verifier.principal(served.token(key_b, "user-b"))).subject == "user-b"
    assert served.requests == 3


async def test_the_fetch_does_not_block_the_event_loop_and_is_shared(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    served, url = issuer
    served.entered, served.gate = asyncio.Event(), asyncio.Event()
    verifier = _verifier(url, Clock())
    token = served.token(keys[0])
    # Ten requests arrive together; the issuer holds its answer until this test, running on
    # the same event loop, lets it go: a blocking fetch would never see that happen.
    calls = [asyncio.create_task(verifier.principal(token)) for _ in range(10)]
    await served.entered.wait()
    assert not any(c.done() for c in calls)
    served.gate.set()
    principals = await asyncio.gather(*calls)
    assert {p.subject for p in principals} == {"u-1"}
    assert served.requests == 1  # one fetch shared by all ten


async def test_a_slow_issuer_times_out_and_the_tokens_wait_for_nothing(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    served, url = issuer
    served.entered, served.gate = asyncio.Event(), asyncio.Event()  # never answers
    verifier = _verifier(url, Clock(), timeout=0.2)
    with pytest.raises(KeysUnavailableError):
        await verifier.principal(served.token(keys[0]))
    assert served.requests == 1


def test_the_settings_configure_the_cache_and_refuse_a_refetch_beyond_half_its_life(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOV_AUTH_JWKS_URL", "https://idp.example/jwks.json")
    monkeypatch.setenv("GOV_AUTH_JWKS_CACHE_TTL_S", "120")
    monkeypatch.setenv("GOV_AUTH_JWKS_MIN_REFETCH_S", "10")
    verifier = jwt_verifier(ServiceSettings())
    assert verifier is not None and verifier.jwks is not None
    assert (verifier.jwks.ttl_s, verifier.jwks.min_refetch_s) == (120, 10)
    monkeypatch.setenv("GOV_AUTH_JWKS_MIN_REFETCH_S", "61")
    with pytest.raises(ValidationError, match="GOV_AUTH_JWKS_MIN_REFETCH_S=61 must be at most"):
        ServiceSettings()


async def test_a_caller_going_away_does_not_cut_the_fetch_short(
    issuer: tuple[Issuer, str], keys: tuple[SigningKey, SigningKey]
) -> None:
    served, url = issuer
    served.entered, served.gate = asyncio.Event(), asyncio.Event()
    verifier = _verifier(url, Clock())
    token = served.token(keys[0])
    first = asyncio.create_task(verifier.principal(token))
    await served.entered.wait()
    first.cancel()  # the client disconnected while its request waited for the JWKS
    with pytest.raises(asyncio.CancelledError):
        await first
    served.gate.set()
    # The next request, within GOV_AUTH_JWKS_MIN_REFETCH_S, finds the keys that fetch brought.
    assert verifier.jwks is not None
    for _ in range(500):  # let the fetch, if it still runs, finish
        if verifier.jwks.expires_at > 0:
            break
        await asyncio.sleep(0.01)
    assert (await verifier.principal(token)).subject == "u-1"
    assert served.requests == 1
