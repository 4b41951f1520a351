"""Fixtures: the notifier app in-process against this session's migrated database, and small
real receivers (an HTTP server on a loopback port) for the channels to talk to."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from gov_common.db import unit_of_work
from gov_common.signing import generate_secret
from gov_common.testing import Infrastructure, TestAuth
from notifier.config import Settings
from notifier.main import create_app

# Not the personal-data access log: it is append-only (the database refuses TRUNCATE).
TABLES = (
    "deliveries",
    "rules",
    "templates",
    "recipients",
    "outbox",
    "inbox",
    "api_keys",
    "pii_rekey_progress",
)


# The built-in webhook's secret (NOTIFIER_WEBHOOK_URL); recipients' webhooks get their own.
BUILTIN_WEBHOOK_SECRET = generate_secret()


@pytest.fixture
def settings(
    test_databases: dict[str, str],
    infrastructure: Infrastructure,
    topic_prefix: str,
    auth: TestAuth,
) -> Settings:
    return Settings.model_validate(
        {
            **auth.settings_env,
            "NOTIFIER_DATABASE_URL": test_databases["notifier"],
            "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
            "GOV_KAFKA_TOPIC_PREFIX": topic_prefix,
            "NOTIFIER_CONSUMER_GROUP": topic_prefix + "notifier",
            "GOV_ENVIRONMENT": "test",
            "GOV_OUTBOX_POLL_INTERVAL_S": 0.5,
            "NOTIFIER_WEBHOOK_SECRET": BUILTIN_WEBHOOK_SECRET,
            "NOTIFIER_RETRY_BASE_S": 0.05,
            "NOTIFIER_RETRY_CAP_S": 0.2,
            "NOTIFIER_MAX_ATTEMPTS": 3,
            "NOTIFIER_DISPATCH_POLL_S": 0.1,
            "NOTIFIER_WEBHOOK_TIMEOUT_S": 5,
            "NOTIFIER_SMTP_TIMEOUT_S": 5,
            "NOTIFIER_CLAIM_LEASE_S": 30,
        }
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app without its lifespan: routes and database, no workers; tables emptied first."""
    application = create_app(settings)
    async with unit_of_work(application.state.sessions) as session:
        await session.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI, auth: TestAuth) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as an admin: the role that manages the notifier's configuration."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://notifier", headers=auth.headers("admin")
    ) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as http:
        yield http


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that answers ``fail_first`` requests with ``fail_status``
    (all of them when ``fail_first`` is None), then 200 with ``answer``."""

    fail_first: int | None = 0
    fail_status: int = 503
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] == 200]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            failing = self.fail_first is None or len(self.requests) < self.fail_first
            status = self.fail_status if failing else 200
            self.requests.append(
                {
                    "method": method,
                    "target": target,
                    "headers": headers,
                    "body": body,
                    "status": status,
                }
            )
            payload = orjson.dumps({"error": "try later"} if failing else self.answer)
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def running(receiver: Receiver) -> AsyncIterator[Receiver]:
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
