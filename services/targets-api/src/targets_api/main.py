"""The targets-api application: indicators, live figures from case events, health."""

from __future__ import annotations

from fastapi import FastAPI

from gov_common.app import Workers, create_service_app, lifespan_with_workers
from gov_common.db import DatabaseProbe, asyncpg_dsn, create_engine, create_session_factory
from gov_common.events.registry import PETITIONS_CASE_EVENTS, TARGETS_INDICATOR_EVENTS
from gov_common.health import Readiness
from gov_common.messaging.inbox import IdempotentConsumer
from gov_common.messaging.kafka import broker_reachable as kafka_reachable
from gov_common.messaging.outbox import OutboxRelay
from gov_common.messaging.retention import RetentionPruner
from gov_common.observability import configure_observability
from gov_common.security.access import Authenticator
from gov_common.security.admin_routes import api_key_router
from gov_common.security.api_keys import principal_for_api_key
from gov_common.security.setup import jwt_verifier
from targets_api import retention
from targets_api.config import Settings, get_settings
from targets_api.db import ApiKey, InboxMessage, OutboxMessage
from targets_api.indicators.routes import router as indicators_router
from targets_api.live.consumers import case_event_handlers
from targets_api.live.routes import router as live_router
from targets_api.progress.routes import router as progress_router
from targets_api.progress.sweeper import Sweeper
from targets_api.security import POLICY

DESCRIPTION = """
Every target of the government work report: indicators, progress, status, and live
indicators fed by the other services' events.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_observability(settings)
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    consumer = IdempotentConsumer(
        name=settings.consumer_group,
        topics=[PETITIONS_CASE_EVENTS],
        handlers=case_event_handlers(settings),
        session_factory=sessions,
        inbox_model=InboxMessage,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic_prefix=settings.kafka_topic_prefix,
    )
    relay = OutboxRelay(
        model=OutboxMessage,
        session_factory=sessions,
        dsn=asyncpg_dsn(settings.database_url),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-relay",
        topics=[TARGETS_INDICATOR_EVENTS],
        topic_prefix=settings.kafka_topic_prefix,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    pruner = RetentionPruner(sessions, retention.rules(settings), settings)
    workers = Workers([consumer, relay, Sweeper(sessions, settings), pruner])

    async def broker_reachable() -> bool:
        # The consumer has joined, and the broker answers now (aiokafka retries quietly).
        return consumer.broker_reachable and await kafka_reachable(settings.kafka_bootstrap_servers)

    readiness = Readiness()
    readiness.add("database", DatabaseProbe(settings.database_url), required=True)
    # The plan is readable without Kafka; only live figures wait for it.
    readiness.add("broker", broker_reachable, required=False)

    lifespan = lifespan_with_workers(workers, engine)

    # Bearer tokens from the configured issuer; API keys for other government systems.
    authenticator = Authenticator(
        jwt_verifier(settings),
        api_keys=lambda session, key: principal_for_api_key(session, ApiKey, key),
    )
    app = create_service_app(
        title="Targets API (政府工作报告目标)",
        description=DESCRIPTION,
        version="0.1.0",
        routers=[indicators_router, progress_router, live_router, api_key_router(ApiKey)],
        readiness=readiness,
        lifespan=lifespan,
        settings=settings,
        access=(POLICY, authenticator),
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.consumer = consumer
    app.state.relay = relay
    return app
