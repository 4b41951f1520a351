"""Every model of the service, imported so Alembic sees all tables."""

from notifier.db import InboxMessage
from notifier.deliveries.models import Delivery

__all__ = ["Delivery", "InboxMessage"]
