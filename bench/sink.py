"""The benchmark's webhook sink: verifies each signature, notes when each message arrived.

Like ``deploy/local/webhook_sink.py`` (the same ``gov_common.signing.verify``), but it keeps only
the arrival time per key instead of the bodies, so a few thousand deliveries cost nothing to
read back. The key is the case id of a notifier webhook (the CloudEvent's ``data.case_id``) or
the ``bench_id`` of a floor message. ``WEBHOOK_SINK_SECRET`` must match the senders'.
"""

from __future__ import annotations

import os
import time

import orjson
from fastapi import FastAPI, Request, Response

from gov_common.settings import DEV_WEBHOOK_SECRET
from gov_common.signing import verify

SECRET = os.environ.get("WEBHOOK_SINK_SECRET", DEV_WEBHOOK_SECRET)
app = FastAPI(title="bench webhook sink")
arrivals: dict[str, float] = {}
counts = {"received": 0, "bad_signature": 0}


@app.post("/hooks/{path:path}")
async def receive(path: str, request: Request) -> Response:
    body = await request.body()
    at = time.time()
    if not verify(SECRET, body, request.headers):
        counts["bad_signature"] += 1
        return Response(status_code=401)
    counts["received"] += 1
    message = orjson.loads(body)
    data = message.get("data") if isinstance(message.get("data"), dict) else {}
    key = message.get("bench_id") or data.get("case_id") or message.get("id")
    arrivals.setdefault(str(key), at)  # a redelivery keeps the first arrival
    return Response(b'{"ok":true}', media_type="application/json")


@app.get("/arrivals")
async def list_arrivals() -> Response:
    return Response(orjson.dumps({"counts": counts, "arrivals": arrivals}))


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
