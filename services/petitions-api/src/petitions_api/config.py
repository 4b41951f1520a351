"""Settings of petitions-api (environment variables; see the README for the full list)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from gov_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "petitions-api"
    database_url: str = Field(
        default="postgresql+asyncpg://gov@127.0.0.1:55432/petitions",
        alias="PETITIONS_DATABASE_URL",
    )
    # CloudEvents ``source`` of every event this service publishes.
    event_source: str = Field(default="/gov/petitions-api", alias="PETITIONS_EVENT_SOURCE")


@lru_cache
def get_settings() -> Settings:
    return Settings()
