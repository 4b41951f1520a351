"""How many SQL statements one ``POST /v1/cases`` runs (``python -m bench.statements``).

A diagnostic behind the intake figure (README, "What the profile shows"): the app runs
in-process (httpx's ASGI transport, lifespan included) against the database named by
``PETITIONS_DATABASE_URL`` (migrated, reference data loaded), and every statement SQLAlchemy
sends is counted per request, by its first words.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.payloads import Credentials, case_body
from gov_common.security.principal import Role

seen: Counter[str] = Counter()


def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    words = " ".join(statement.split()[:4])
    seen[words[:70]] += 1


async def main(requests: int = 20) -> None:
    credentials = Credentials()
    os.environ.update(credentials.service_env)
    os.environ.setdefault("GOV_RATE_LIMIT_RPS", "100000")
    from petitions_api.main import create_app

    app = create_app()
    event.listen(Engine, "before_cursor_execute", _count)
    headers = {**credentials.headers(Role.OPERATOR), "content-type": "application/json"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for i in range(3):  # warm-up: caches, prepared statements
                await http.post("/v1/cases", content=case_body(10_000 + i), headers=headers)
            await asyncio.sleep(1)
            seen.clear()
            for i in range(requests):
                key = {"Idempotency-Key": f"statements-{os.getpid()}-{i}"}
                response = await http.post(
                    "/v1/cases", content=case_body(i), headers={**headers, **key}
                )
                assert response.status_code == 201, response.text
    total = sum(seen.values())
    print(f"{total / requests:.1f} statements per POST /v1/cases (outbox relay included):")
    for words, count in seen.most_common():
        print(f"  {count / requests:5.2f}  {words}")


if __name__ == "__main__":
    asyncio.run(main())
