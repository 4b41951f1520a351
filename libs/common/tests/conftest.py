"""Fixtures for gov_common's own tests: a throwaway database with test tables."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import String
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.db import Base, create_engine, create_session_factory, new_metadata
from gov_common.idempotency import IdempotencyKeyMixin
from gov_common.messaging.inbox import InboxMixin
from gov_common.messaging.outbox import OutboxMixin
from gov_common.security.api_keys import ApiKeyMixin
from gov_common.security.audit import PersonalDataAccessMixin, append_only_ddl
from gov_common.testing import Infrastructure, create_database, drop_database


class TestBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class OutboxRow(OutboxMixin, TestBase):
    __tablename__ = "outbox"


class InboxRow(InboxMixin, TestBase):
    __tablename__ = "inbox"


class IdempotencyRow(IdempotencyKeyMixin, TestBase):
    __tablename__ = "idempotency_keys"


class ApiKeyRow(ApiKeyMixin, TestBase):
    __tablename__ = "api_keys"


class AccessLogRow(PersonalDataAccessMixin, TestBase):
    __tablename__ = "personal_data_access_log"


class Effect(TestBase):
    """What a test handler did: one row per event it handled."""

    __tablename__ = "effects"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    note: Mapped[str] = mapped_column(String(200))


@dataclass
class CommonDb:
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def dsn(self) -> str:
        return self.url.replace("+asyncpg", "")


@pytest.fixture(scope="session")
async def common_db(infrastructure: Infrastructure) -> AsyncIterator[CommonDb]:
    admin = infrastructure.admin_url("petitions")
    name = f"common_t{uuid.uuid4().hex[:8]}"
    await create_database(admin, name)
    url = str(make_url(infrastructure.database_urls["petitions"]).set(database=name))
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(TestBase.metadata.create_all)
        for statement in append_only_ddl("personal_data_access_log"):
            await connection.exec_driver_sql(statement)
    try:
        yield CommonDb(url, engine, create_session_factory(engine))
    finally:
        await engine.dispose()
        await drop_database(admin, name)
