"""Every model of the service, imported so Alembic sees all tables."""

from targets_api.db import InboxMessage
from targets_api.indicators.models import Indicator
from targets_api.live.models import CaseEventTally

__all__ = ["CaseEventTally", "InboxMessage", "Indicator"]
