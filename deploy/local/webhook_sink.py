"""A local webhook receiver for development and tests: verifies the notifier's Standard
Webhooks signature, keeps what it received, and shows it at ``GET /received``.

Run: ``uv run uvicorn --app-dir deploy/local webhook_sink:app --port 8199``.
Each endpoint has its own secret: ``WEBHOOK_SINK_SECRET`` is the one of the notifier's built-in
webhook (its ``NOTIFIER_WEBHOOK_SECRET``); a recipient's webhook gets its secret from the
notifier when it is registered, and ``PUT /secrets`` tells the sink which path it is for.
This is also the reference for verifying a signature on the receiving side: verify the raw
bytes, before parsing, with the stock ``standardwebhooks`` library.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gov_common.settings import DEV_WEBHOOK_SECRET

SECRET = os.environ.get("WEBHOOK_SINK_SECRET", DEV_WEBHOOK_SECRET)
LOG_FILE = os.environ.get("WEBHOOK_SINK_LOG")  # one JSON line per request received, if set

app = FastAPI(title="Local webhook sink")
received: list[dict[str, Any]] = []
secrets: dict[str, str] = {}  # path → that endpoint's secret; others: SECRET


class EndpointSecret(BaseModel):
    path: str  # e.g. "/hooks/unit"
    secret: str  # whsec_…, as the notifier returned it


@app.put("/secrets")
async def set_secret(endpoint: EndpointSecret) -> dict[str, str]:
    secrets[endpoint.path] = endpoint.secret
    return {"path": endpoint.path}


@app.post("/{path:path}")
async def receive(path: str, request: Request) -> JSONResponse:
    body = await request.body()
    secret = secrets.get("/" + path, SECRET)
    try:
        Webhook(secret).verify(body, dict(request.headers))
        signature_valid = True
    except WebhookVerificationError:
        signature_valid = False
    entry = {
        "path": "/" + path,
        "received_at": datetime.now(UTC).isoformat(),
        # webhook-id: the delivery id, the same on every retry: drop repeats by it.
        "delivery_id": request.headers.get("webhook-id"),
        "event_id": request.headers.get("X-Gov-Event-Id"),
        "signatures": len(request.headers.get("webhook-signature", "").split()),
        "signature_valid": signature_valid,
        "body": orjson.loads(body) if body else None,
    }
    received.append(entry)
    if LOG_FILE:
        with Path(LOG_FILE).open("ab") as log:  # noqa: ASYNC230 - a dev tool, one short line
            log.write(orjson.dumps(entry) + b"\n")
    if not signature_valid:
        return JSONResponse({"error": "bad signature"}, status_code=401)
    return JSONResponse({"ok": True})


@app.get("/received")
async def list_received() -> list[dict[str, Any]]:
    return received


@app.delete("/received")
async def clear_received() -> dict[str, int]:
    count = len(received)
    received.clear()
    return {"cleared": count}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
