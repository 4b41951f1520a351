"""A webhook receiver for the fault scenarios: verifies each signature and keeps, per request,
the delivery id, the event id and the body, so a test can count what a receiver would see.

Run: ``uvicorn --app-dir tests/tools counting_sink:app`` with ``COUNTING_SINK_SECRET`` equal
to the notifier's ``NOTIFIER_WEBHOOK_SECRET``. ``GET /summary`` gives the counts (cheap at
thousands of requests); ``GET /received`` the requests themselves.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gov_common.settings import DEV_WEBHOOK_SECRET
from gov_common.signing import EVENT_ID_HEADER, ID_HEADER, verify

SECRET = os.environ.get("COUNTING_SINK_SECRET", DEV_WEBHOOK_SECRET)

app = FastAPI(title="Counting webhook sink")
# (path, delivery id, event id, signature valid, raw body) per request, in arrival order.
received: list[tuple[str, str | None, str | None, bool, bytes]] = []


@app.post("/{path:path}")
async def receive(path: str, request: Request) -> JSONResponse:
    body = await request.body()
    valid = verify(SECRET, body, request.headers)
    received.append(
        (
            "/" + path,
            request.headers.get(ID_HEADER),
            request.headers.get(EVENT_ID_HEADER),
            valid,
            body,
        )
    )
    if not valid:
        return JSONResponse({"error": "bad signature"}, status_code=401)
    return JSONResponse({"ok": True})


@app.get("/summary")
async def summary() -> dict[str, Any]:
    """Counts as a receiver that drops repeated delivery ids would see them."""
    deliveries_per_event: dict[str | None, set[str | None]] = {}
    for _, delivery_id, event_id, valid, _ in received:
        if valid:
            deliveries_per_event.setdefault(event_id, set()).add(delivery_id)
    delivery_ids = Counter(d for _, d, _, valid, _ in received if valid)
    return {
        "requests": len(received),
        "invalid_signatures": sum(1 for r in received if not r[3]),
        "distinct_delivery_ids": len(delivery_ids),
        "distinct_event_ids": len(deliveries_per_event),
        # The same notification arriving again (retry after a crash): a receiver drops these.
        "repeated_requests": sum(n - 1 for n in delivery_ids.values()),
        # The same event notified under different delivery ids: a receiver would act twice.
        "events_with_several_delivery_ids": sum(
            1 for ids in deliveries_per_event.values() if len(ids) > 1
        ),
    }


@app.get("/received")
async def list_received(bodies: bool = False) -> Response:
    rows = [
        {
            "path": path,
            "delivery_id": delivery_id,
            "event_id": event_id,
            "signature_valid": valid,
            **({"body": orjson.loads(body) if body else None} if bodies else {}),
        }
        for path, delivery_id, event_id, valid, body in received
    ]
    return Response(orjson.dumps(rows), media_type="application/json")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
