"""The petitions-api application: routes, the outbox relay, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gov_common.app import Workers, create_service_app
from gov_common.db import asyncpg_dsn, create_engine, create_session_factory, database_is_reachable
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.health import Readiness
from gov_common.logging import configure_logging
from gov_common.messaging.outbox import OutboxRelay
from petitions_api.cases.routes import router as cases_router
from petitions_api.config import Settings, get_settings
from petitions_api.db import OutboxMessage

DESCRIPTION = """
12345 hotline tickets (工单) and 信访 petition cases (信访件): intake, routing, deadlines and the
first-time grassroots resolution figure. Errors are RFC 9457 `application/problem+json`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.service_name, settings.log_level)
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    relay = OutboxRelay(
        model=OutboxMessage,
        session_factory=sessions,
        dsn=asyncpg_dsn(settings.database_url),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-relay",
        topics=[PETITIONS_CASE_EVENTS],
        topic_prefix=settings.kafka_topic_prefix,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    workers = Workers([relay])

    async def broker_reachable() -> bool:
        return relay.broker_reachable

    readiness = Readiness()
    readiness.add("database", lambda: database_is_reachable(engine), required=True)
    # Not required: while Kafka is away, cases are still taken and their events wait in the outbox.
    readiness.add("broker", broker_reachable, required=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await engine.dispose()

    app = create_service_app(
        title="Petitions API (12345 / 信访)",
        description=DESCRIPTION,
        version="0.1.0",
        routers=[cases_router],
        readiness=readiness,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.relay = relay
    return app
