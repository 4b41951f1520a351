"""The targets database: declarative base, the inbox, the outbox and the API keys."""

from __future__ import annotations

from gov_common.db import Base as CommonBase
from gov_common.db import new_metadata
from gov_common.messaging.inbox import InboxMixin
from gov_common.messaging.outbox import OutboxMixin
from gov_common.security.api_keys import ApiKeyMixin


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class InboxMessage(InboxMixin, Base):
    __tablename__ = "inbox"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"


class ApiKey(ApiKeyMixin, Base):
    """Keys of the other government systems that may call this service (stored hashed)."""
