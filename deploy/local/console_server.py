"""The console's static server for ``make run`` and the browser tests.

Serves ``frontend/console/dist`` (the built single-page app, with ``index.html`` for every
path that is not a file, so deep links like ``/cases/<id>`` work) and proxies the three APIs
under one origin, so the browser needs no CORS and never learns the services' addresses:

    /api/petitions/...  →  CONSOLE_PETITIONS_URL  (default http://127.0.0.1:8101)
    /api/targets/...    →  CONSOLE_TARGETS_URL    (default http://127.0.0.1:8102)
    /api/notifier/...   →  CONSOLE_NOTIFIER_URL   (default http://127.0.0.1:8103)

In a cluster nginx does the same (deploy/console/nginx.conf). Run with
``uvicorn --app-dir deploy/local console_server:app --port 8180``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("CONSOLE_DIST", ROOT / "frontend" / "console" / "dist")).resolve()
UPSTREAMS = {
    "petitions": os.environ.get("CONSOLE_PETITIONS_URL", "http://127.0.0.1:8101"),
    "targets": os.environ.get("CONSOLE_TARGETS_URL", "http://127.0.0.1:8102"),
    "notifier": os.environ.get("CONSOLE_NOTIFIER_URL", "http://127.0.0.1:8103"),
}
# What crosses the proxy each way; hop-by-hop and cookie headers do not.
REQUEST_HEADERS = (
    "accept",
    "accept-language",
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
)
RESPONSE_HEADERS = (
    "content-type",
    "etag",
    "location",
    "retry-after",
    "x-request-id",
    "cache-control",
    "content-disposition",
)
# The console's own pages: scripts and styles from this origin only, API calls to this origin.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with httpx.AsyncClient(timeout=30) as client:
        app.state.client = client
        yield


async def proxy(request: Request) -> Response:
    service = request.path_params["service"]
    base = UPSTREAMS.get(service)
    if base is None:
        return JSONResponse({"title": "Not Found", "status": 404}, status_code=404)
    url = f"{base}/{request.path_params['rest']}"
    headers = {k: v for k, v in request.headers.items() if k in REQUEST_HEADERS}
    if request.client is not None:
        headers["x-forwarded-for"] = request.client.host
    client: httpx.AsyncClient = request.app.state.client
    try:
        upstream = await client.request(
            request.method,
            url,
            params=request.query_params.multi_items(),
            headers=headers,
            content=await request.body(),
        )
    except httpx.HTTPError:
        return JSONResponse(
            {"title": "Bad Gateway", "status": 502, "detail": f"{service} did not answer"},
            status_code=502,
            media_type="application/problem+json",
        )
    kept = {k: v for k, v in upstream.headers.items() if k in RESPONSE_HEADERS}
    return Response(upstream.content, status_code=upstream.status_code, headers=kept)


async def static(request: Request) -> Response:
    if not (DIST / "index.html").is_file():
        return PlainTextResponse(
            f"the console is not built: run `npm ci && npm run build` in frontend/console "
            f"(looked in {DIST})",
            status_code=503,
        )
    relative = request.path_params.get("path", "")
    candidate = (DIST / relative).resolve()
    if relative and candidate.is_file() and candidate.is_relative_to(DIST):
        # Vite names assets by content hash: they may be cached for good.
        cache = "public, max-age=31536000, immutable" if relative.startswith("assets/") else None
        response: Response = FileResponse(candidate)
        if cache:
            response.headers["cache-control"] = cache
    else:
        response = FileResponse(DIST / "index.html", headers={"cache-control": "no-cache"})
    response.headers.update(SECURITY_HEADERS)
    return response


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route(
            "/api/{service}/{rest:path}",
            proxy,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        ),
        Route("/{path:path}", static),
    ],
    lifespan=lifespan,
)
