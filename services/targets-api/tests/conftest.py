"""Fixtures: the targets app in-process, against this session's migrated database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from gov_common.testing import (
    Infrastructure,
    TestAuth,
    create_database,
    drop_database,
    migrate,
    run_coroutine,
)
from targets_api.config import Settings
from targets_api.main import create_app


@pytest.fixture(scope="session")
def targets_database(infrastructure: Infrastructure) -> Iterator[str]:
    """A migrated targets database of these tests' own. Not the session's shared one: these
    tests consume case events, and the e2e suite checks the tally in the shared database."""
    name = f"targets_u{uuid.uuid4().hex[:8]}"
    admin_url = infrastructure.admin_url("targets")
    run_coroutine(create_database(admin_url, name))
    url = str(make_url(infrastructure.database_urls["targets"]).set(database=name))
    try:
        migrate("targets", url)
        yield url
    finally:
        run_coroutine(drop_database(admin_url, name))


@pytest.fixture
def settings(
    targets_database: str, infrastructure: Infrastructure, topic_prefix: str, auth: TestAuth
) -> Settings:
    return Settings.model_validate(
        {
            **auth.settings_env,
            "TARGETS_DATABASE_URL": targets_database,
            "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
            "GOV_KAFKA_TOPIC_PREFIX": topic_prefix,
            "GOV_ENVIRONMENT": "test",
            "TARGETS_PETITIONS_BASE_URL": "http://petitions.test",
        }
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app without its lifespan: routes and database, no workers running."""
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def client(app: FastAPI, auth: TestAuth) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in as the planning office, which owns plans and indicators and reviews reports;
    department reports pass ``headers=department("edu")``."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://targets",
        headers=auth.headers("planner", subject="planner@fgj"),
    ) as http:
        yield http


@pytest.fixture
async def bare(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials: anonymous, or with the headers a test passes."""
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://targets") as http:
        yield http


@pytest.fixture
def department(auth: TestAuth) -> Callable[[str], dict[str, str]]:
    """Headers of a handler of a department: its org unit is the reporting department."""
    return lambda code: auth.headers("handler", org_unit=code, subject=f"clerk@{code}")


@pytest.fixture
def plan_code() -> str:
    """A plan code of this test's own (the database is shared by the session)."""
    return f"p-{uuid.uuid4().hex[:10]}"
