"""Settings of the notifier (environment variables; see the README for the full list)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, Self

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from gov_common.settings import ServiceSettings

# Per-channel sending rates ("<channel>=<count>/<seconds>"): providers throttle or ban above
# them, e.g. a DingTalk or WeCom group robot takes 20 messages a minute.
DEFAULT_RATE_LIMITS = "webhook=50/1,email=10/1,sms=10/1,wecom=20/60,dingtalk=20/60"


class Settings(ServiceSettings):
    service_name: str = "notifier"
    database_url: str = Field(
        default="postgresql+asyncpg://gov@127.0.0.1:25432/notifier", alias="NOTIFIER_DATABASE_URL"
    )
    consumer_group: str = Field(default="notifier", alias="NOTIFIER_CONSUMER_GROUP")
    # Built-in rule: every case.created goes to this webhook, beside the configured rules.
    webhook_url: AnyHttpUrl | None = Field(default=None, alias="NOTIFIER_WEBHOOK_URL")
    webhook_secret: SecretStr = Field(
        default=SecretStr("dev-only-change-me"), alias="NOTIFIER_WEBHOOK_SECRET"
    )
    webhook_timeout_s: float = Field(default=10.0, alias="NOTIFIER_WEBHOOK_TIMEOUT_S", gt=0)
    max_attempts: int = Field(default=8, alias="NOTIFIER_MAX_ATTEMPTS", ge=1)
    retry_base_s: float = Field(default=1.0, alias="NOTIFIER_RETRY_BASE_S", gt=0)
    retry_cap_s: float = Field(default=600.0, alias="NOTIFIER_RETRY_CAP_S", gt=0)
    dispatch_poll_interval_s: float = Field(default=1.0, alias="NOTIFIER_DISPATCH_POLL_S", gt=0)
    dispatch_batch_size: int = Field(default=50, alias="NOTIFIER_DISPATCH_BATCH", ge=1)
    # A claimed delivery is invisible to other dispatchers this long; after a crash mid-send
    # it is tried again once the lease ends. Must exceed every channel's timeout.
    claim_lease_s: float = Field(default=120.0, alias="NOTIFIER_CLAIM_LEASE_S", gt=0)
    rate_limits: str = Field(default=DEFAULT_RATE_LIMITS, alias="NOTIFIER_RATE_LIMITS")

    # Email over SMTP.
    smtp_host: str | None = Field(default=None, alias="NOTIFIER_SMTP_HOST")
    smtp_port: int = Field(default=25, alias="NOTIFIER_SMTP_PORT", ge=1, le=65535)
    smtp_username: str | None = Field(default=None, alias="NOTIFIER_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(default=None, alias="NOTIFIER_SMTP_PASSWORD")
    smtp_from: str = Field(default="notifier@gov-suite.example", alias="NOTIFIER_SMTP_FROM")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", alias="NOTIFIER_SMTP_SECURITY"
    )
    smtp_timeout_s: float = Field(default=10.0, alias="NOTIFIER_SMTP_TIMEOUT_S", gt=0)

    # SMS: "sandbox" only records; "tencent" calls Tencent Cloud SMS (SendSms, API 2021-01-11).
    sms_provider: Literal["sandbox", "tencent"] = Field(
        default="sandbox", alias="NOTIFIER_SMS_PROVIDER"
    )
    tencent_secret_id: str | None = Field(default=None, alias="NOTIFIER_TENCENT_SECRET_ID")
    tencent_secret_key: SecretStr | None = Field(default=None, alias="NOTIFIER_TENCENT_SECRET_KEY")
    tencent_sms_app_id: str | None = Field(default=None, alias="NOTIFIER_TENCENT_SMS_APP_ID")
    tencent_sms_sign_name: str | None = Field(default=None, alias="NOTIFIER_TENCENT_SMS_SIGN_NAME")
    tencent_sms_template_id: str | None = Field(
        default=None, alias="NOTIFIER_TENCENT_SMS_TEMPLATE_ID"
    )
    tencent_sms_region: str = Field(default="ap-guangzhou", alias="NOTIFIER_TENCENT_SMS_REGION")
    tencent_sms_endpoint: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://sms.tencentcloudapi.com/"),
        alias="NOTIFIER_TENCENT_SMS_ENDPOINT",
    )

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits_parse(cls, value: str) -> str:
        parse_rate_limits(value)
        return value

    @model_validator(mode="after")
    def _lease_outlasts_sends(self) -> Self:
        slowest = max(self.webhook_timeout_s, self.smtp_timeout_s)
        if self.claim_lease_s <= slowest:
            raise ValueError(
                f"NOTIFIER_CLAIM_LEASE_S ({self.claim_lease_s}) must exceed the slowest channel "
                f"timeout ({slowest}s), or a slow send is claimed twice"
            )
        if self.sms_provider == "tencent":
            missing = [
                name
                for name, value in (
                    ("NOTIFIER_TENCENT_SECRET_ID", self.tencent_secret_id),
                    ("NOTIFIER_TENCENT_SECRET_KEY", self.tencent_secret_key),
                    ("NOTIFIER_TENCENT_SMS_APP_ID", self.tencent_sms_app_id),
                    ("NOTIFIER_TENCENT_SMS_SIGN_NAME", self.tencent_sms_sign_name),
                    ("NOTIFIER_TENCENT_SMS_TEMPLATE_ID", self.tencent_sms_template_id),
                )
                if not value
            ]
            if missing:
                raise ValueError("NOTIFIER_SMS_PROVIDER=tencent needs " + ", ".join(missing))
        return self

    def parsed_rate_limits(self) -> dict[str, tuple[int, float]]:
        return parse_rate_limits(self.rate_limits)


def parse_rate_limits(spec: str) -> dict[str, tuple[int, float]]:
    """``"sms=10/1,wecom=20/60"`` → ``{"sms": (10, 1.0), "wecom": (20, 60.0)}``."""
    limits: dict[str, tuple[int, float]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        channel, _, rate = item.partition("=")
        count, _, per = rate.partition("/")
        try:
            limits[channel.strip()] = (int(count), float(per or "1"))
        except ValueError:
            raise ValueError(
                f"rate limit {item!r} is not <channel>=<count>/<seconds>, e.g. sms=10/1"
            ) from None
        if limits[channel.strip()][0] < 1 or limits[channel.strip()][1] <= 0:
            raise ValueError(f"rate limit {item!r} must allow at least 1 per positive period")
    return limits


@lru_cache
def get_settings() -> Settings:
    return Settings()
