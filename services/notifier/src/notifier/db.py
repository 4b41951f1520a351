"""The notifier database: declarative base and the inbox table."""

from __future__ import annotations

from gov_common.db import Base as CommonBase
from gov_common.db import new_metadata
from gov_common.messaging.inbox import InboxMixin


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class InboxMessage(InboxMixin, Base):
    __tablename__ = "inbox"
