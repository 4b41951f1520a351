"""The notifier application: the event consumer, the delivery dispatcher, the outbox relay
of delivery outcomes, and the API for recipients, rules, templates and deliveries."""

from __future__ import annotations

from fastapi import FastAPI, Request

from gov_common.app import Workers, create_service_app, lifespan_with_workers
from gov_common.db import DatabaseProbe, asyncpg_dsn, create_engine, create_session_factory
from gov_common.events.contracts import (
    NOTIFIER_DELIVERY_EVENTS,
    PETITIONS_CASE_EVENTS,
    TARGETS_INDICATOR_EVENTS,
)
from gov_common.health import Readiness
from gov_common.messaging.inbox import IdempotentConsumer
from gov_common.messaging.kafka import broker_reachable as kafka_reachable
from gov_common.messaging.outbox import OutboxRelay
from gov_common.messaging.retention import RetentionPruner
from gov_common.observability import configure_observability
from gov_common.security.access import Authenticator
from gov_common.security.admin_routes import access_log_router, api_key_router
from gov_common.security.api_keys import principal_for_api_key
from gov_common.security.crypto import BlindIndex, FieldCipher
from gov_common.security.rekey import key_report_router
from gov_common.security.setup import blind_index, field_cipher, jwt_verifier
from notifier import rekey, retention
from notifier.config import Settings, get_settings
from notifier.consumers import event_handlers
from notifier.db import ApiKey, InboxMessage, OutboxMessage, PersonalDataAccess, RekeyProgress
from notifier.deliveries.dispatcher import DeliveryDispatcher
from notifier.deliveries.routes import router as deliveries_router
from notifier.recipients.routes import router as recipients_router
from notifier.rules.routes import router as rules_router
from notifier.security import POLICY
from notifier.templates.routes import router as templates_router

DESCRIPTION = """
Tells the people who must act. Rules say which events (filtered on their fields) go to which
recipients — fixed, or resolved from the event: the case's handling unit, its supervisor, the
indicator's departments, the petitioner — over which channels (signed webhook, email, SMS,
WeCom and DingTalk group robots) with which Jinja2 template. Every delivery and its status is
recorded; failed ones can be retried. Errors are RFC 9457 `application/problem+json`.
"""

CONSUMED_TOPICS = [PETITIONS_CASE_EVENTS, TARGETS_INDICATOR_EVENTS]


def _notifier_keys(request: Request) -> tuple[FieldCipher, BlindIndex]:
    return request.app.state.cipher, blind_index(request.app.state.settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_observability(settings)
    # (httpx logs every URL at INFO, and robot webhook URLs carry their token: configure_logging
    # keeps it to warnings.)
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    # Recipients' addresses and robot secrets are encrypted at rest (notifier.privacy).
    cipher = field_cipher(settings)
    dispatcher = DeliveryDispatcher(session_factory=sessions, settings=settings, cipher=cipher)
    consumer = IdempotentConsumer(
        name=settings.consumer_group,
        topics=CONSUMED_TOPICS,
        handlers=event_handlers(settings, CONSUMED_TOPICS, cipher=cipher, dispatcher=dispatcher),
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
        topics=[NOTIFIER_DELIVERY_EVENTS],
        topic_prefix=settings.kafka_topic_prefix,
        poll_interval_s=settings.outbox_poll_interval_s,
    )
    workers = Workers(
        [
            consumer,
            dispatcher,
            relay,
            RetentionPruner(sessions, retention.rules(settings), settings),
        ]
    )

    async def broker_reachable() -> bool:
        # The consumer has joined, and the broker answers now (aiokafka retries quietly).
        return consumer.broker_reachable and await kafka_reachable(settings.kafka_bootstrap_servers)

    readiness = Readiness()
    readiness.add("database", DatabaseProbe(settings.database_url), required=True)
    # A consumer without its broker has nothing to do: unready.
    readiness.add("broker", broker_reachable, required=True)

    lifespan = lifespan_with_workers(workers, engine)

    authenticator = Authenticator(
        jwt_verifier(settings), api_keys=lambda s, k: principal_for_api_key(s, ApiKey, k)
    )
    app = create_service_app(
        title="Notifier",
        description=DESCRIPTION,
        version="0.2.0",
        routers=[
            recipients_router,
            templates_router,
            rules_router,
            deliveries_router,
            api_key_router(ApiKey),
            access_log_router(PersonalDataAccess),
            key_report_router(rekey.TABLES, RekeyProgress, _notifier_keys),
        ],
        readiness=readiness,
        lifespan=lifespan,
        settings=settings,
        access=(POLICY, authenticator),
    )
    app.state.settings = settings
    app.state.cipher = cipher
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.consumer = consumer
    app.state.dispatcher = dispatcher
    app.state.relay = relay
    return app
