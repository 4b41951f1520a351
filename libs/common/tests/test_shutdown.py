"""SIGTERM drains first: readiness turns 503 at once, the server's own handler runs later."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from types import FrameType

import httpx
import pytest
from fastapi import FastAPI

from gov_common.health import Readiness, health_router
from gov_common.shutdown import drain_on_sigterm


class ServerHandler:
    """Stands in for uvicorn's SIGTERM handler (which sets its should_exit flag)."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, sig: int, frame: FrameType | None) -> None:
        self.calls.append(sig)


@pytest.fixture
def server_handler() -> Iterator[ServerHandler]:
    handler = ServerHandler()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield handler
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _readyz(readiness: Readiness) -> httpx.Response:
    app = FastAPI()
    app.include_router(health_router(readiness))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        return await c.get("/readyz")


async def test_sigterm_reports_draining_and_hands_over_after_the_delay(
    server_handler: ServerHandler,
) -> None:
    readiness = Readiness()
    with drain_on_sigterm(readiness, 0.3):
        assert (await _readyz(readiness)).status_code == 200
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert readiness.draining
        response = await _readyz(readiness)
        assert response.status_code == 503
        assert response.json()["status"] == "draining"
        assert server_handler.calls == []  # still serving
        async with asyncio.timeout(5):
            while not server_handler.calls:
                await asyncio.sleep(0.02)
    assert signal.getsignal(signal.SIGTERM) is server_handler  # put back


async def test_a_second_sigterm_hands_over_at_once(server_handler: ServerHandler) -> None:
    readiness = Readiness()
    with drain_on_sigterm(readiness, 60):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert readiness.draining and server_handler.calls == []
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert len(server_handler.calls) == 1


async def test_no_delay_leaves_the_server_handler_alone(server_handler: ServerHandler) -> None:
    with drain_on_sigterm(Readiness(), 0):
        assert signal.getsignal(signal.SIGTERM) is server_handler
