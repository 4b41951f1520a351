"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies are reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[bool]]


@dataclass
class Readiness:
    """Named checks; a failing *required* check makes the service unready (503).

    A check that is not required is reported but does not fail readiness: an API whose
    events wait safely in its outbox can keep taking requests while Kafka is away, whereas a
    consumer without a broker has nothing to do.
    """

    checks: dict[str, Check] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    timeout_s: float = 2.0
    # Set when the process was asked to stop: it still serves, but tells balancers to go away.
    draining: bool = False

    def add(self, name: str, check: Check, *, required: bool) -> None:
        self.checks[name] = check
        if required:
            self.required.add(name)

    async def close(self) -> None:
        """Release what the checks hold (e.g. a :class:`~gov_common.db.DatabaseProbe`)."""
        for check in self.checks.values():
            close = getattr(check, "close", None)
            if close is not None:
                await close()

    async def evaluate(self) -> tuple[bool, dict[str, str]]:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(), timeout=self.timeout_s)
            except Exception:
                return False

        names = list(self.checks)
        results = await asyncio.gather(*(run(self.checks[n]) for n in names))
        report = {n: "ok" if ok else "unreachable" for n, ok in zip(names, results, strict=True)}
        ready = all(ok for n, ok in zip(names, results, strict=True) if n in self.required)
        return ready, report


def health_router(readiness: Readiness) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and broker reachable")
    async def readyz() -> JSONResponse:
        ready, report = await readiness.evaluate()
        status = "draining" if readiness.draining else "ready" if ready else "unready"
        return JSONResponse(
            {"status": status, "checks": report},
            status_code=200 if status == "ready" else 503,
        )

    return router
