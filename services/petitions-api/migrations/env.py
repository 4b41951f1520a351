"""Alembic environment of petitions-api: its own metadata, its own database."""

from gov_common.migrations import run_migrations
from petitions_api import models  # noqa: F401 - registers every table on the metadata
from petitions_api.config import Settings
from petitions_api.db import Base

run_migrations(Base.metadata, Settings().database_url)
