"""Every model of the service, imported so Alembic sees all tables."""

from notifier.db import InboxMessage, OutboxMessage
from notifier.deliveries.models import Delivery
from notifier.recipients.models import Recipient
from notifier.rules.models import Rule
from notifier.templates.models import Template

__all__ = ["Delivery", "InboxMessage", "OutboxMessage", "Recipient", "Rule", "Template"]
