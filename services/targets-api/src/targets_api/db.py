"""The targets database: declarative base, the inbox, the outbox, the API keys and the
idempotency keys of creating requests."""

from __future__ import annotations

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.db import Base as CommonBase
from gov_common.db import new_metadata
from gov_common.idempotency import Idempotency, IdempotencyKeyMixin, guard_for
from gov_common.messaging.inbox import InboxMixin
from gov_common.messaging.outbox import OutboxMixin
from gov_common.security.api_keys import ApiKeyMixin
from gov_common.security.principal import Principal


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class InboxMessage(InboxMixin, Base):
    __tablename__ = "inbox"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ApiKey(ApiKeyMixin, Base):
    """Keys of the other government systems that may call this service (stored hashed)."""


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Creating requests seen before (plans, indicators, progress reports)."""


def idempotency(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
) -> Idempotency:
    """The ``Idempotency-Key`` guard of a creating route (gov_common.idempotency)."""
    return guard_for(session, IdempotencyKey, request, principal, key, body)
