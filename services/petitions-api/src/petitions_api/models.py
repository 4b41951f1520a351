"""Every model of the service, imported so Alembic sees all tables."""

from petitions_api.cases.models import Case
from petitions_api.db import OutboxMessage

__all__ = ["Case", "OutboxMessage"]
