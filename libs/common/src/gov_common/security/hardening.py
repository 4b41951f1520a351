"""HTTP hardening: body size limit, per-client rate limits, security headers.

(CORS uses Starlette's CORSMiddleware with the allow-list from the settings.)
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
    (b"cache-control", b"no-store"),
]
# The docs pages load their own scripts and styles; everything else is JSON or XML.
_API_CSP = b"default-src 'none'; frame-ancestors 'none'"
_DOCS_CSP = b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"  # noqa: E501


async def _problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        docs = path.startswith(("/docs", "/redoc", "/static-offline-docs"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                headers.append((b"content-security-policy", _DOCS_CSP if docs else _API_CSP))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _problem(
                send, 413, "Content Too Large", f"the body may be at most {self.max_bytes} bytes"
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException reaches the app's problem handlers as a 413.
                    raise HTTPException(413, f"the body may be at most {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


class RateLimitMiddleware:
    """A token bucket per client (its credential, else its address), per process.

    ``rate`` requests per second on average, bursts up to ``burst``; over that, 429 with
    Retry-After. Probes and metrics are not limited. Per process: with N replicas a client
    gets up to N times the rate, which the limits in the deployment account for.
    """

    def __init__(self, app: ASGIApp, *, rate: float, burst: int, max_clients: int = 10000) -> None:
        self.app = app
        self.rate = rate
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _client_key(self, scope: Scope) -> str:
        headers = dict(scope["headers"])
        credential = headers.get(b"authorization") or headers.get(b"x-api-key")
        if credential:
            return "c:" + hashlib.sha256(credential).hexdigest()[:32]
        client = scope.get("client")
        return "a:" + (client[0] if client else "unknown")

    def take(self, key: str, now: float) -> float:
        """0 when allowed, else seconds until a token is available."""
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in ("/healthz", "/readyz", "/metrics"):
            await self.app(scope, receive, send)
            return
        wait = self.take(self._client_key(scope), time.monotonic())
        if wait > 0:
            retry = str(max(1, round(wait)))
            await _problem(
                send,
                429,
                "Too Many Requests",
                f"slow down; retry in {retry} s",
                [(b"retry-after", retry.encode())],
            )
            return
        await self.app(scope, receive, send)
