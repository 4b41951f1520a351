"""The petitions database: declarative base and the outbox table."""

from __future__ import annotations

from gov_common.db import Base as CommonBase
from gov_common.db import new_metadata
from gov_common.messaging.outbox import OutboxMixin


class Base(CommonBase):
    __abstract__ = True
    metadata = new_metadata()


class OutboxMessage(OutboxMixin, Base):
    __tablename__ = "outbox"
