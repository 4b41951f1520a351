"""Every model of the service, imported so Alembic sees all tables."""

from petitions_api.cases.models import Case, IdempotencyKey, Petitioner, TimelineEntry
from petitions_api.db import ApiKey, OutboxMessage, PersonalDataAccess
from petitions_api.deadlines.calendar.models import CalendarReconciliation, CalendarVersion
from petitions_api.deadlines.models import CaseDeadline, DeadlineAlert
from petitions_api.metrics import models as metrics_models  # noqa: F401 - its indexes
from petitions_api.metrics import rollup  # noqa: F401 - the grassroots_daily table
from petitions_api.reference.models import Category, HotlineTier, OrgUnit, ReferenceVersion

__all__ = [
    "ApiKey",
    "CalendarReconciliation",
    "CalendarVersion",
    "Case",
    "CaseDeadline",
    "Category",
    "DeadlineAlert",
    "HotlineTier",
    "IdempotencyKey",
    "OrgUnit",
    "OutboxMessage",
    "PersonalDataAccess",
    "Petitioner",
    "ReferenceVersion",
    "TimelineEntry",
]
