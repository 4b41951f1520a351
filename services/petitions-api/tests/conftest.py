"""Fixtures: the petitions app in-process, against this session's migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from gov_common.db import unit_of_work
from gov_common.testing import Infrastructure, TestAuth
from petitions_api.config import Settings
from petitions_api.main import create_app
from petitions_api.reference.service import load_reference_data

from .helpers import ACTOR_ID


@pytest.fixture
def settings(
    test_databases: dict[str, str],
    infrastructure: Infrastructure,
    topic_prefix: str,
    auth: TestAuth,
) -> Settings:
    return Settings.model_validate(
        {
            **auth.settings_env,  # trust the test session's token issuer
            "PETITIONS_DATABASE_URL": test_databases["petitions"],
            "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
            "GOV_KAFKA_TOPIC_PREFIX": topic_prefix,
            "GOV_ENVIRONMENT": "test",
            "GOV_OUTBOX_POLL_INTERVAL_S": 1.0,
        }
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app without its lifespan: routes and database, no relay running."""
    application = create_app(settings)
    async with unit_of_work(application.state.sessions) as session:
        await load_reference_data(session, settings)  # the Yintai seed, idempotent
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI, auth: TestAuth) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in as an admin named ``operator-1``: every route, the whole district. Tests of
    roles and org-unit scope send their own headers (``auth.headers(role, org_unit=…)``)."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://petitions",
        headers=auth.headers("admin", subject=ACTOR_ID),
    ) as http:
        yield http


@pytest.fixture
async def bare(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """No credentials: anonymous, or whatever headers a test passes."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://petitions") as http:
        yield http
