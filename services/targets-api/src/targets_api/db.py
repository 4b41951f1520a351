"""The targets database: declarative base, the inbox and the outbox tables."""

from __future__ import annotations

from gov_common.db import Base as CommonBase
from gov_common.db import new_metadata
from gov_common.messaging.inbox import InboxMixin
from gov_common.messaging.outbox import OutboxMixin


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class InboxMessage(InboxMixin, Base):
    __tablename__ = "inbox"


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"
