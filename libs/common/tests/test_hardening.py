"""Body size limits, rate limits and security headers."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from gov_common.security.hardening import (
    BodySizeLimitMiddleware,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
)


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def test_bodies_over_the_limit_are_refused_declared_or_streamed() -> None:
    app = BodySizeLimitMiddleware(_app(), max_bytes=1000)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        assert (await client.post("/echo", content=b"x" * 1000)).json() == {"size": 1000}
        declared = await client.post("/echo", content=b"x" * 1001)
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(5):
                yield b"y" * 300

        streamed = await client.post("/echo", content=chunks())
        assert streamed.status_code == 413


async def test_a_client_over_its_rate_gets_429_and_others_do_not() -> None:
    app = RateLimitMiddleware(_app(), rate=0.001, burst=3)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        noisy = {"x-api-key": "gk_noisy"}
        codes = [(await client.post("/echo", headers=noisy)).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        refused = await client.post("/echo", headers=noisy)
        assert int(refused.headers["retry-after"]) >= 1
        assert (await client.post("/echo", headers={"x-api-key": "gk_quiet"})).status_code == 200
        assert (await client.get("/healthz", headers=noisy)).status_code == 200  # probes pass


def test_the_bucket_refills_with_time() -> None:
    limiter = RateLimitMiddleware(_app(), rate=2, burst=1)
    assert limiter.take("k", now=100.0) == 0
    assert limiter.take("k", now=100.0) > 0
    assert limiter.take("k", now=100.6) == 0


async def test_security_headers_are_on_every_response() -> None:
    app = SecurityHeadersMiddleware(_app())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        response = await client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in response.headers["content-security-policy"]
