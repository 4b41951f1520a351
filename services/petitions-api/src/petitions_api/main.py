"""The petitions-api application: routes, the outbox relay, the deadline sweep, health, and
the security around them (the access policy, the built-in token issuer, API keys, the
personal-data access log)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request

from gov_common.app import Workers, create_service_app
from gov_common.db import (
    DatabaseProbe,
    asyncpg_dsn,
    create_engine,
    create_session_factory,
    unit_of_work,
)
from gov_common.events.registry import PETITIONS_CASE_EVENTS
from gov_common.health import Readiness
from gov_common.messaging.kafka import broker_reachable as kafka_reachable
from gov_common.messaging.outbox import OutboxRelay
from gov_common.messaging.retention import RetentionPruner
from gov_common.observability import configure_observability
from gov_common.security.admin_routes import access_log_router, api_key_router
from gov_common.security.crypto import BlindIndex, FieldCipher
from gov_common.security.issuer_hashes import sql_hash_store
from gov_common.security.issuer_routes import token_router
from gov_common.security.rekey import key_report_router
from petitions_api import rekey, retention
from petitions_api.auth.setup import (
    PetitionsAuthenticator,
    built_in_issuer,
    issuer_accounts,
    token_verifier,
)
from petitions_api.cases.personal_data import Protector
from petitions_api.cases.routes import router as cases_router
from petitions_api.config import Settings, get_settings
from petitions_api.db import (
    ApiKey,
    IssuerPasswordHash,
    OutboxMessage,
    PersonalDataAccess,
    RekeyProgress,
)
from petitions_api.deadlines.calendar import service as calendar_service
from petitions_api.deadlines.calendar.cache import cache as calendar_cache
from petitions_api.deadlines.calendar.routes import router as calendar_router
from petitions_api.deadlines.sweeper import DeadlineSweeper
from petitions_api.metrics.routes import router as metrics_router
from petitions_api.open311.routes import router as open311_router
from petitions_api.reference.cache import cache as reference_cache
from petitions_api.reference.routes import router as reference_router
from petitions_api.reference.service import load_reference_data
from petitions_api.security import POLICY

log = structlog.get_logger(__name__)

DESCRIPTION = """
12345 hotline tickets (工单) and 信访 petition cases (信访件): intake, routing, deadlines and the
first-time grassroots resolution figure. Errors are RFC 9457 `application/problem+json`.
"""


def _petitions_keys(request: Request) -> tuple[FieldCipher, BlindIndex]:
    protector = Protector.from_settings(request.app.state.settings)
    return protector.cipher, protector.index


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_observability(settings)
    reference_cache.ttl_s = settings.reference_cache_ttl_s
    calendar_cache.ttl_s = settings.calendar_cache_ttl_s
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        ping_after_idle_s=settings.db_ping_after_idle_s,
    )
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
    sweeper = DeadlineSweeper(session_factory=sessions, settings=settings)
    pruner = RetentionPruner(sessions, retention.rules(settings), settings)
    workers = Workers([relay, sweeper, pruner])

    async def broker_reachable() -> bool:
        return await kafka_reachable(settings.kafka_bootstrap_servers)

    readiness = Readiness()
    readiness.add("database", DatabaseProbe(settings.database_url), required=True)
    # Not required: while Kafka is away, cases are still taken and their events wait in the outbox.
    readiness.add("broker", broker_reachable, required=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.load_reference_data:
            # Idempotent upsert of the configured data files (the deployment's seed).
            async with unit_of_work(sessions) as session:
                report = await load_reference_data(session, settings)
            log.info(
                "reference_data.loaded",
                org_units=report.org_units_version,
                categories=report.categories_version,
            )
        async with unit_of_work(sessions) as session:
            await calendar_service.prepare_calendar(session, settings)
        await workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await engine.dispose()

    routers = [
        cases_router,
        calendar_router,
        reference_router,
        metrics_router,
        open311_router,
        api_key_router(ApiKey),
        access_log_router(PersonalDataAccess),
        key_report_router(rekey.TABLES, RekeyProgress, _petitions_keys),
    ]
    # Where no identity provider exists, people and machine clients sign in here.
    issuer = built_in_issuer(settings)
    if issuer is not None:
        accounts = issuer_accounts(settings)
        routers.append(
            token_router(
                issuer,
                accounts,
                ttl_s=settings.auth_token_ttl_s,
                hash_store=sql_hash_store(IssuerPasswordHash),
            )
        )
    authenticator = PetitionsAuthenticator(token_verifier(settings, issuer))

    app = create_service_app(
        title="Petitions API (12345 / 信访)",
        description=DESCRIPTION,
        version="0.3.0",
        routers=routers,
        readiness=readiness,
        lifespan=lifespan,
        settings=settings,
        access=(POLICY, authenticator),
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.engine = engine
    app.state.relay = relay
    app.state.sweeper = sweeper
    return app
