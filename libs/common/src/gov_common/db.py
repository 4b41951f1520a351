"""Async SQLAlchemy 2 plumbing: engine, sessions and the request's unit of work.

Services never commit: the unit of work around a request (or a consumed event) commits
when the work succeeds and rolls back when it raises.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction

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


def after_commit(
    session: AsyncSession,
    callback: Callable[[], None],
    *,
    on_discard: Callable[[], None] | None = None,
) -> None:
    """Run ``callback`` once ``session``'s outermost transaction has committed.

    SQLAlchemy's own ``after_commit`` event also fires when a SAVEPOINT is released, which
    commits nothing: the consumer runs each event's handler in a savepoint of one batch
    transaction. This waits for the real commit, and drops the callback (calling
    ``on_discard``) if the savepoint it was registered in, or the transaction, rolls back.
    """
    sync = session.sync_session
    # Beginning the transaction (if nothing has yet) does no I/O.
    registered_in = sync.get_nested_transaction() or sync.get_transaction() or sync.begin()
    pending: list[_AfterCommit] | None = sync.info.get(_AFTER_COMMIT)
    if pending is None:
        # One set of listeners per session, however many callbacks a batch registers.
        sync.info[_AFTER_COMMIT] = pending = []
        event.listen(sync, "after_commit", _committed)
        event.listen(sync, "after_soft_rollback", _rolled_back)
        event.listen(sync, "after_transaction_end", _ended)
    pending.append(_AfterCommit(registered_in, callback, on_discard))


_AFTER_COMMIT = "gov_after_commit"


@dataclass(frozen=True)
class _AfterCommit:
    registered_in: SessionTransaction
    callback: Callable[[], None]
    on_discard: Callable[[], None] | None

    def within(self, transaction: SessionTransaction) -> bool:
        """Was it registered in ``transaction`` or in a savepoint inside it?"""
        current: SessionTransaction | None = self.registered_in
        while current is not None:
            if current is transaction:
                return True
            current = current.parent
        return False


def _take(session: Session, which: Callable[[_AfterCommit], bool]) -> list[_AfterCommit]:
    pending: list[_AfterCommit] = session.info[_AFTER_COMMIT]
    taken = [entry for entry in pending if which(entry)]
    if taken:
        session.info[_AFTER_COMMIT] = [entry for entry in pending if not which(entry)]
    return taken


def _committed(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: nothing committed yet
        return
    for entry in _take(session, lambda _: True):
        entry.callback()


def _discard(entries: list[_AfterCommit]) -> None:
    for entry in entries:
        if entry.on_discard is not None:
            entry.on_discard()


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    _discard(_take(session, lambda entry: entry.within(previous)))


def _ended(session: Session, transaction: SessionTransaction) -> None:
    # Also when the session closes without a rollback (e.g. a commit that failed).
    if transaction.parent is None:
        _discard(_take(session, lambda _: True))
