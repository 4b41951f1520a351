"""The notifier application: the case-event consumer, the delivery dispatcher, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gov_common.app import Workers, create_service_app
from gov_common.db import create_engine, create_session_factory, database_is_reachable
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.health import Readiness
from gov_common.logging import configure_logging
from gov_common.messaging.inbox import IdempotentConsumer
from notifier.config import Settings, get_settings
from notifier.consumers import case_event_handlers
from notifier.db import InboxMessage
from notifier.deliveries.dispatcher import DeliveryDispatcher
from notifier.deliveries.routes import router as deliveries_router

DESCRIPTION = """
Tells the people who must act: consumes the suite's events, delivers notifications (a signed
webhook for now), and records every delivery and its status.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.service_name, settings.log_level)
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    dispatcher = DeliveryDispatcher(session_factory=sessions, settings=settings)
    consumer = IdempotentConsumer(
        name=settings.consumer_group,
        topics=[PETITIONS_CASE_EVENTS],
        handlers=case_event_handlers(settings),
        session_factory=sessions,
        inbox_model=InboxMessage,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic_prefix=settings.kafka_topic_prefix,
        on_handled=lambda _: dispatcher.wake(),
    )
    workers = Workers([consumer, dispatcher])

    async def broker_reachable() -> bool:
        return consumer.broker_reachable

    readiness = Readiness()
    readiness.add("database", lambda: database_is_reachable(engine), required=True)
    # A consumer without its broker has nothing to do: unready.
    readiness.add("broker", broker_reachable, required=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await engine.dispose()

    app = create_service_app(
        title="Notifier",
        description=DESCRIPTION,
        version="0.1.0",
        routers=[deliveries_router],
        readiness=readiness,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.consumer = consumer
    app.state.dispatcher = dispatcher
    return app
