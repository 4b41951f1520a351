"""Every model of the service, imported so Alembic sees all tables."""

from notifier.db import ApiKey, InboxMessage, OutboxMessage, PersonalDataAccess
from notifier.deliveries.models import Delivery
from notifier.recipients.models import Recipient
from notifier.rules.models import Rule
from notifier.templates.models import Template

__all__ = [
    "ApiKey",
    "Delivery",
    "InboxMessage",
    "OutboxMessage",
    "PersonalDataAccess",
    "Recipient",
    "Rule",
    "Template",
]
