"""What every service's FastAPI app has: problems, request ids, health, metrics, workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, Protocol

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gov_common.db import unit_of_work
from gov_common.health import Readiness, health_router
from gov_common.logging import RequestContextMiddleware
from gov_common.metrics import HttpMetricsMiddleware
from gov_common.problems import install_problem_handlers
from gov_common.security.access import AccessPolicy, Authenticator, enforce
from gov_common.security.setup import add_hardening
from gov_common.settings import ServiceSettings
from gov_common.shutdown import drain_on_sigterm
from gov_common.tracing import instrument_app

log = structlog.get_logger(__name__)


class Worker(Protocol):
    """A long-running background job (outbox relay, consumer, dispatcher)."""

    def stop(self) -> None: ...

    def run(self) -> Awaitable[None]: ...


class Workers:
    """Runs background workers beside the HTTP server and stops them gracefully."""

    def __init__(self, workers: Sequence[Worker], *, stop_timeout_s: float = 10.0) -> None:
        self._workers = list(workers)
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_timeout = stop_timeout_s

    async def start(self) -> None:
        for worker in self._workers:
            self._tasks.append(
                asyncio.create_task(self._supervise(worker), name=type(worker).__name__)
            )

    @staticmethod
    async def _supervise(worker: Worker) -> None:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("worker.crashed", worker=type(worker).__name__)
            raise

    async def stop(self) -> None:
        for worker in self._workers:
            worker.stop()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self._stop_timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def lifespan_with_workers(
    workers: Workers,
    engine: AsyncEngine,
    *,
    on_start: Callable[[FastAPI], Awaitable[None]] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The usual lifespan: start-up work, then the workers; on shutdown the workers stop
    (the relay finishes its batch, consumers commit) before the database pool closes."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            await on_start(app)
        await workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await engine.dispose()

    return lifespan


def create_service_app(
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    readiness: Readiness,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    settings: ServiceSettings | None = None,
    access: tuple[AccessPolicy, Authenticator] | None = None,
) -> FastAPI:
    """The service's app. With ``settings``, HTTP hardening (size and rate limits, CORS,
    security headers); with ``access``, every route is authenticated and authorised against
    the policy before it runs."""

    drain_s = settings.shutdown_drain_s if settings is not None else 0.0

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            with drain_on_sigterm(readiness, drain_s):
                if lifespan is None:
                    yield
                    return
                async with lifespan(app):
                    yield
        finally:
            await readiness.close()

    dependencies = []
    if access is not None:
        policy, authenticator = access

        async def guard(request: Request, session: SessionDep) -> None:
            await enforce(request, session, policy, authenticator)

        dependencies.append(Depends(guard))

    # Swagger UI and ReDoc served from the package, not a CDN: government networks are
    # often closed to the internet.
    app = FastAPIOffline(
        dependencies=dependencies,
        title=title,
        description=description,
        version=version,
        lifespan=_lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    install_problem_handlers(app)
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings is not None:
        add_hardening(app, settings)
    instrument_app(app)  # after configure_tracing: spans only if it installed a provider
    app.include_router(health_router(readiness))
    for router in routers:
        app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _request_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request.app.state.sessions) as session:
        yield session


# The request's unit of work. scope="function" commits before the response is sent, so a
# client is never told "created" about a transaction that then fails to commit.
SessionDep = Annotated[AsyncSession, Depends(_request_session, scope="function")]
