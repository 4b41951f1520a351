"""The engine's pool: a connection that died while idle is replaced before a request uses it;
one just returned is used without a ping. Work after a commit waits for the real commit."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from sqlalchemy import event, text

from gov_common.db import after_commit, create_engine, unit_of_work

from .conftest import CommonDb

pytestmark = pytest.mark.integration


async def _terminate(dsn: str, pid: int) -> None:
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_a_connection_lost_while_idle_is_replaced_before_use(common_db: CommonDb) -> None:
    engine = create_engine(common_db.url, pool_size=1, ping_after_idle_s=0.2)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        await _terminate(common_db.dsn, first)  # what a PostgreSQL restart does to it
        await asyncio.sleep(0.3)
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()


async def test_a_connection_back_a_moment_ago_is_not_pinged(common_db: CommonDb) -> None:
    engine = create_engine(common_db.url, pool_size=1, ping_after_idle_s=60)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    pings = 0
    original = engine.sync_engine.dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        nonlocal pings
        pings += 1
        return original(dbapi_connection)

    engine.sync_engine.dialect.do_ping = counting_ping  # type: ignore[method-assign]
    try:
        for _ in range(3):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        assert pings == 0 and len(statements) == 3
    finally:
        await engine.dispose()


async def test_after_commit_waits_for_the_transaction_not_a_savepoint(common_db: CommonDb) -> None:
    happened: list[str] = []
    async with unit_of_work(common_db.sessions) as session:
        await session.execute(text("SELECT 1"))
        async with session.begin_nested():
            after_commit(session, lambda: happened.append("kept"))
        with contextlib.suppress(ValueError):
            async with session.begin_nested():
                after_commit(
                    session,
                    lambda: happened.append("rolled back"),
                    on_discard=lambda: happened.append("discarded"),
                )
                raise ValueError("this handler failed")
        after_commit(session, lambda: happened.append("outer"))
        assert happened == ["discarded"]  # the savepoint released commits nothing yet
    assert happened == ["discarded", "kept", "outer"]
    await session.commit()  # a later transaction of the same session: nothing runs again
    assert happened == ["discarded", "kept", "outer"]


async def test_after_commit_is_discarded_when_the_transaction_is(common_db: CommonDb) -> None:
    happened: list[str] = []
    with contextlib.suppress(ValueError):
        async with unit_of_work(common_db.sessions) as session:
            async with session.begin_nested():
                after_commit(
                    session,
                    lambda: happened.append("sent"),
                    on_discard=lambda: happened.append("discarded"),
                )
            raise ValueError("the batch failed after the handler")
    assert happened == ["discarded"]
