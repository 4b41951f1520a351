"""Alembic environment of targets-api: its own metadata, its own database."""

from gov_common.migrations import run_migrations
from targets_api import models  # noqa: F401 - registers every table on the metadata
from targets_api.config import Settings
from targets_api.db import Base

run_migrations(Base.metadata, Settings().database_url)
