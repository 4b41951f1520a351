"""The intake floor: a bare FastAPI endpoint that inserts one row with asyncpg.

No validation beyond parsing JSON, no auth, no outbox: what any FastAPI + PostgreSQL service
pays per POST on this machine. Run by the benchmark with the same uvicorn settings as the
services; ``BENCH_FLOOR_DSN`` names its database (a table ``floor_cases`` is created).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from fastapi import FastAPI, Request, Response

DSN = os.environ.get("BENCH_FLOOR_DSN", "postgresql://gov@127.0.0.1:25432/bench_floor")
# As many connections as a service has (GOV_DB_POOL_SIZE, and as many again may overflow).
POOL = int(os.environ.get("GOV_DB_POOL_SIZE", "10"))
pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=POOL, max_size=2 * POOL)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS floor_cases (id uuid PRIMARY KEY, body jsonb NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )
    yield
    await pool.close()


app = FastAPI(title="intake floor", lifespan=lifespan)


@app.post("/v1/cases", status_code=201)
async def create(request: Request) -> Response:
    body = orjson.loads(await request.body())
    case_id = uuid.uuid4()
    assert pool is not None
    await pool.execute(
        "INSERT INTO floor_cases (id, body) VALUES ($1, $2::jsonb)",
        case_id,
        orjson.dumps(body).decode(),
    )
    return Response(
        orjson.dumps({"id": str(case_id)}), status_code=201, media_type="application/json"
    )


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}
