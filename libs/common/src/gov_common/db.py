"""Async SQLAlchemy 2 plumbing: engine, sessions and the request's unit of work.

Services never commit: the unit of work around a request (or a consumed event) commits
when the work succeeds and rolls back when it raises.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any

from sqlalchemy import Enum, MetaData, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names make Alembic migrations reviewable and reversible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Base for one service's models; each service subclasses it with its own metadata."""

    __abstract__ = True


def create_engine(
    url: str, *, pool_size: int = 10, ping_after_idle_s: float | None = None
) -> AsyncEngine:
    """The service's engine. Every checked-out connection is pinged first (a restarted
    PostgreSQL must not fail the next request) — or, with ``ping_after_idle_s``, only one
    that sat in the pool at least that long: under load connections come back within
    milliseconds, and the ping (three round trips with asyncpg) would double the trips of a
    short transaction, while a connection that outlived a restart has been idle for at least
    the restart's duration.

    At most ``2 × pool_size`` connections (``pool_size`` and as many again under load), all
    kept once opened, as asyncpg's own pool keeps them: with SQLAlchemy's overflow, a
    connection returned while ``pool_size`` others sat idle was closed, and the next burst
    opened it again (connect, authenticate, every statement prepared anew) — under a
    saturating load that churned connections many times a second."""
    engine = create_async_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_pre_ping=ping_after_idle_s is None,
        pool_recycle=1800,
    )
    if ping_after_idle_s is not None:
        _ping_after_idle(engine, ping_after_idle_s)
    return engine


def _ping_after_idle(engine: AsyncEngine, idle_s: float) -> None:
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < idle_s:
            return  # just connected, or back from a request a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out a new one (SQLAlchemy's
            # "pessimistic disconnect handling" with a custom ping).
            raise DisconnectionError("connection lost while idle in the pool") from error


_RETURNED_AT = "gov_returned_at"


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends normally, rolled back when it raises."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def database_is_reachable(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


class DatabaseProbe:
    """Readiness's check of the database, on a connection of its own.

    Through the request pool, a service whose connections are all busy answering requests
    would look unreachable and be taken out of rotation just when it is loaded — and its
    replicas with it. Its own connection asks only whether PostgreSQL answers.
    """

    def __init__(self, url: str) -> None:
        # Two: a balancer's and the kubelet's checks may overlap.
        self._engine = create_async_engine(url, pool_size=1, max_overflow=1, pool_pre_ping=True)

    async def __call__(self) -> bool:
        return await database_is_reachable(self._engine)

    async def close(self) -> None:
        await self._engine.dispose()


def asyncpg_dsn(url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL, for asyncpg's own connections."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def str_enum(enum: type[StrEnum], name: str) -> Enum:
    """A string column holding a StrEnum's *values* (not its member names), checked by the DB."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum),
        values_callable=lambda members: [m.value for m in members],
    )
