"""Fixtures: the petitions app in-process, against this session's migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from gov_common.db import unit_of_work
from gov_common.testing import Infrastructure
from petitions_api.config import Settings
from petitions_api.main import create_app
from petitions_api.reference.service import load_reference_data


@pytest.fixture
def settings(
    test_databases: dict[str, str], infrastructure: Infrastructure, topic_prefix: str
) -> Settings:
    return Settings.model_validate(
        {
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
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://petitions") as http:
        yield http
