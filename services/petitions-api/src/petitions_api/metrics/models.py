"""Indexes the metrics read from: covering, partial indexes on the denormalised case columns,
so that every figure is one index-only aggregate, whatever the number of cases."""

from __future__ import annotations

from sqlalchemy import Index, text

from petitions_api.cases.models import Case

# Figures counted by the day a case was closed (办结): grassroots, satisfaction, on-time.
CLOSED_INDEX = Index(
    "ix_cases_metrics_closed",
    Case.kind,
    Case.closed_on,
    Case.id,
    postgresql_where=text("status = 'closed'"),
    postgresql_include=[
        "first_time",
        "review_stage",
        "effective",
        "grassroots",
        "on_time",
        "rating",
        "town_unit_id",
        "place_unit_id",
        "handling_unit_id",
    ],
)

# Figures counted by the day a case was received: response, resolution, repeat.
RECEIVED_INDEX = Index(
    "ix_cases_metrics_received",
    Case.kind,
    Case.received_on,
    Case.id,
    postgresql_include=[
        "status",
        "first_time",
        "review_stage",
        "responded_at",
        "town_unit_id",
        "place_unit_id",
        "handling_unit_id",
    ],
)

# The backlog (信访积案) looks at open cases only: a small part of the table.
OPEN_INDEX = Index(
    "ix_cases_metrics_open",
    Case.kind,
    Case.received_on,
    Case.id,
    postgresql_where=text("status NOT IN ('closed', 'declined')"),
    postgresql_include=["place_unit_id", "handling_unit_id", "town_unit_id"],
)
