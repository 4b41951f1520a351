"""A local webhook receiver for development and tests: verifies the notifier's signature,
keeps what it received, and shows it at ``GET /received``.

Run: ``uv run uvicorn --app-dir deploy/local webhook_sink:app --port 8199``
(``WEBHOOK_SINK_SECRET`` must match the notifier's ``NOTIFIER_WEBHOOK_SECRET``).
This is also the reference for verifying a signature on the receiving side.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gov_common.signing import (
    DELIVERY_ID_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)

SECRET = os.environ.get("WEBHOOK_SINK_SECRET", "dev-only-change-me")
LOG_FILE = os.environ.get("WEBHOOK_SINK_LOG")  # one JSON line per request received, if set

app = FastAPI(title="Local webhook sink")
received: list[dict[str, Any]] = []


@app.post("/{path:path}")
async def receive(path: str, request: Request) -> JSONResponse:
    body = await request.body()
    signature_valid = verify(
        SECRET,
        timestamp=request.headers.get(TIMESTAMP_HEADER, ""),
        signature=request.headers.get(SIGNATURE_HEADER, ""),
        body=body,
    )
    entry = {
        "path": "/" + path,
        "received_at": datetime.now(UTC).isoformat(),
        "delivery_id": request.headers.get(DELIVERY_ID_HEADER),
        "event_id": request.headers.get(EVENT_ID_HEADER),
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
