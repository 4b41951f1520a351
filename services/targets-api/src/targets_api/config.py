"""Settings of targets-api (environment variables; see the README for the full list)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from gov_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "targets-api"
    database_url: str = Field(
        default="postgresql+asyncpg://gov@127.0.0.1:55432/targets", alias="TARGETS_DATABASE_URL"
    )
    consumer_group: str = Field(default="targets-api", alias="TARGETS_CONSUMER_GROUP")


@lru_cache
def get_settings() -> Settings:
    return Settings()
