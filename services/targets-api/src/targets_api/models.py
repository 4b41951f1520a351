"""Every model of the service, imported so Alembic sees all tables."""

from targets_api.db import ApiKey, IdempotencyKey, InboxMessage, OutboxMessage
from targets_api.indicators.models import Indicator, Milestone, Plan
from targets_api.live.models import CaseEventTally, CaseFact
from targets_api.progress.models import ProgressReport

__all__ = [
    "ApiKey",
    "CaseEventTally",
    "CaseFact",
    "IdempotencyKey",
    "InboxMessage",
    "Indicator",
    "Milestone",
    "OutboxMessage",
    "Plan",
    "ProgressReport",
]
