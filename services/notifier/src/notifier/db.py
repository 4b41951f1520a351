"""The notifier database: declarative base, the inbox and outbox tables, API keys, the
personal-data access log and the idempotency keys of creating requests."""

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
from gov_common.security.audit import PersonalDataAccessMixin
from gov_common.security.principal import Principal
from gov_common.security.rekey import RekeyProgressMixin


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class InboxMessage(InboxMixin, Base):
    __tablename__ = "inbox"


class OutboxMessage(OutboxMixin, Base):
    """Delivery outcome events (notifier.delivery-events), written with the final state."""

    __tablename__ = "outbox"


class ApiKey(ApiKeyMixin, Base):
    """Keys of the government systems that may call the notifier (stored hashed)."""

    __tablename__ = "api_keys"


class PersonalDataAccess(PersonalDataAccessMixin, Base):
    """Append-only: every unmasked read of a recipient's phone or email (the database refuses
    UPDATE and DELETE)."""

    __tablename__ = "personal_data_access_log"


class RekeyProgress(RekeyProgressMixin, Base):
    """How far the personal-data re-keying job got, per target and table (python -m
    notifier.rekey)."""

    __tablename__ = "pii_rekey_progress"


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Creating requests seen before (recipients, templates, rules)."""


def idempotency(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
) -> Idempotency:
    """The ``Idempotency-Key`` guard of a creating route (gov_common.idempotency); a
    recipient's body holds a phone or an email, so the fingerprint is keyed."""
    return guard_for(session, IdempotencyKey, request, principal, key, body)
