"""Async SQLAlchemy 2 plumbing: engine, sessions and the request's unit of work.

Services never commit: the unit of work around a request (or a consumed event) commits
when the work succeeds and rolls back when it raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum

from sqlalchemy import Enum, MetaData, text
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


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,  # a restarted PostgreSQL must not fail the next request
        pool_recycle=1800,
    )


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
