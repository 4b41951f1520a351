"""Settings of the notifier (environment variables; see the README for the full list)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import AnyHttpUrl, Field, SecretStr

from gov_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifier"
    database_url: str = Field(
        default="postgresql+asyncpg://gov@127.0.0.1:55432/notifier", alias="NOTIFIER_DATABASE_URL"
    )
    consumer_group: str = Field(default="notifier", alias="NOTIFIER_CONSUMER_GROUP")
    # Where case events are delivered until subscription rules exist (issue #5).
    webhook_url: AnyHttpUrl | None = Field(default=None, alias="NOTIFIER_WEBHOOK_URL")
    webhook_secret: SecretStr = Field(
        default=SecretStr("dev-only-change-me"), alias="NOTIFIER_WEBHOOK_SECRET"
    )
    webhook_timeout_s: float = Field(default=10.0, alias="NOTIFIER_WEBHOOK_TIMEOUT_S", gt=0)
    max_attempts: int = Field(default=8, alias="NOTIFIER_MAX_ATTEMPTS", ge=1)
    retry_base_s: float = Field(default=1.0, alias="NOTIFIER_RETRY_BASE_S", gt=0)
    retry_cap_s: float = Field(default=600.0, alias="NOTIFIER_RETRY_CAP_S", gt=0)
    dispatch_poll_interval_s: float = Field(default=1.0, alias="NOTIFIER_DISPATCH_POLL_S", gt=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
