"""Alembic environment of notifier: its own metadata, its own database."""

from gov_common.migrations import run_migrations
from notifier import models  # noqa: F401 - registers every table on the metadata
from notifier.config import Settings
from notifier.db import Base

run_migrations(Base.metadata, Settings().database_url)
