"""Settings shared by every service, read from environment variables (pydantic-settings).

Each service subclasses :class:`ServiceSettings` and names its own database variable
(``PETITIONS_DATABASE_URL`` …); the Kafka address is one variable for the whole suite.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that exist only so a developer's machine starts without configuration. Outside
# development a service refuses to start while any secret still has one of them.
DEV_PII_KEYS = "dev:ZGV2LW9ubHktcGlpLWtleS1uZXZlci1pbi1wcm9kISE"
DEV_PII_INDEX_KEY = "ZGV2LW9ubHktaW5kZXgta2V5LW5ldmVyLWluLXByb2Q"
# The notifier's built-in webhook (NOTIFIER_WEBHOOK_URL) and the local webhook sink.
DEV_WEBHOOK_SECRET = "whsec_ZGV2LW9ubHktd2ViaG9vay1rZXktbmV2ZXItaW4tcHJvZCEh"  # noqa: S105 - refused below
DEVELOPMENT_ONLY_SECRETS = frozenset(
    {
        "dev-only-change-me",
        "changeme",
        "secret",
        "",
        DEV_PII_KEYS,
        DEV_PII_INDEX_KEY,
        DEV_WEBHOOK_SECRET,
    }
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ServiceSettings(BaseSettings):
    # hide_input_in_errors: a refused setting's error (logged at start) never repeats its value,
    # which may be a secret.
    model_config = SettingsConfigDict(
        extra="ignore", env_file=None, populate_by_name=True, hide_input_in_errors=True
    )

    service_name: str = "gov-service"
    environment: Environment = Field(default=Environment.DEVELOPMENT, alias="GOV_ENVIRONMENT")
    log_level: str = Field(default="INFO", alias="GOV_LOG_LEVEL")
    database_url: str = "postgresql+asyncpg://gov@127.0.0.1:25432/postgres"
    db_pool_size: int = Field(default=10, alias="GOV_DB_POOL_SIZE", ge=1)
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:29092", alias="KAFKA_BOOTSTRAP_SERVERS")
    # Prefixes every topic name; lets test runs and several deployments share one cluster.
    kafka_topic_prefix: str = Field(default="", alias="GOV_KAFKA_TOPIC_PREFIX")
    # Where traces go: none, console or otlp (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT).
    otel_traces_exporter: Literal["none", "console", "otlp"] = Field(
        default="none", alias="OTEL_TRACES_EXPORTER"
    )
    # The relay polls at this interval even without a NOTIFY, in case one was missed.
    outbox_poll_interval_s: float = Field(default=2.0, alias="GOV_OUTBOX_POLL_INTERVAL_S", gt=0)
    # On SIGTERM, answer /readyz with 503 and keep serving this long before the server stops
    # accepting connections, so a balancer that checks readiness moves traffic away first. 0:
    # stop at once (Kubernetes' preStop sleep already keeps a terminating pod serving).
    shutdown_drain_s: float = Field(default=0.0, alias="GOV_SHUTDOWN_DRAIN_S", ge=0, le=120)

    # --- retention of the outbox, inbox and idempotency tables (gov_common.messaging.retention)
    # Published outbox rows are kept this long (unpublished ones until they are published).
    outbox_retention_days: float = Field(default=7, alias="GOV_OUTBOX_RETENTION_DAYS", gt=0)
    # Processed event ids: longer than the topics' and dead-letter topics' retention together
    # (an event can come again while either still holds it), checked below.
    inbox_retention_days: float = Field(default=90, alias="GOV_INBOX_RETENTION_DAYS", gt=0)
    idempotency_retention_days: float = Field(
        default=7, alias="GOV_IDEMPOTENCY_RETENTION_DAYS", gt=0
    )
    # What the Kafka topics keep (deploy/k8s/kafka-topics: 14 days, dead-letter topics 4x).
    topic_retention_days: float = Field(default=14, alias="GOV_TOPIC_RETENTION_DAYS", gt=0)
    dead_letter_retention_days: float = Field(
        default=56, alias="GOV_DEAD_LETTER_RETENTION_DAYS", gt=0
    )
    retention_interval_s: float = Field(default=3600, alias="GOV_RETENTION_INTERVAL_S", gt=0)
    retention_batch_size: int = Field(default=1000, alias="GOV_RETENTION_BATCH_SIZE", ge=1)

    # --- security (docs: README, "Security") ---
    # Bearer tokens: who issues them, for whom, and where their public keys are.
    auth_issuer: str = Field(default="http://127.0.0.1:8101", alias="GOV_AUTH_ISSUER")
    auth_audience: str = Field(default="gov-suite", alias="GOV_AUTH_AUDIENCE")
    auth_jwks_url: str | None = Field(default=None, alias="GOV_AUTH_JWKS_URL")
    auth_jwks: str | None = Field(default=None, alias="GOV_AUTH_JWKS")  # a JWKS as JSON
    # Keys fetched from GOV_AUTH_JWKS_URL are trusted this long after the fetch that returned
    # them (a key dropped from the JWKS is refused at most this much later; fetched again
    # after half of it); a token's unknown kid fetches again at most once per
    # GOV_AUTH_JWKS_MIN_REFETCH_S; a fetch gives up after GOV_AUTH_JWKS_TIMEOUT_S.
    auth_jwks_cache_ttl_s: float = Field(
        default=300.0, alias="GOV_AUTH_JWKS_CACHE_TTL_S", gt=0, le=86_400
    )
    auth_jwks_min_refetch_s: float = Field(default=30.0, alias="GOV_AUTH_JWKS_MIN_REFETCH_S", ge=0)
    auth_jwks_timeout_s: float = Field(default=5.0, alias="GOV_AUTH_JWKS_TIMEOUT_S", gt=0, le=60)
    # Personal data at rest: "kid:base64url-32-byte-key,..." and the key new writes use.
    pii_keys: SecretStr = Field(default=SecretStr(DEV_PII_KEYS), alias="GOV_PII_KEYS")
    pii_active_key: str = Field(default="dev", alias="GOV_PII_ACTIVE_KEY")
    pii_index_key: SecretStr = Field(
        default=SecretStr(DEV_PII_INDEX_KEY), alias="GOV_PII_INDEX_KEY"
    )
    # The blind-index key's name, stored with each row's indexes (the re-keying job and its
    # check tell rows indexed under an older key by it).
    pii_index_key_id: str = Field(
        default="i1", alias="GOV_PII_INDEX_KEY_ID", pattern=r"^[A-Za-z0-9_-]{1,32}$"
    )
    # While the index is rebuilt under a new key: the old keys ("kid:key,..."), whose hashes
    # lookups still match until every row is re-indexed (docs/runbook.md, "Retire a key").
    pii_previous_index_keys: SecretStr | None = Field(
        default=None, alias="GOV_PII_PREVIOUS_INDEX_KEYS"
    )
    # HTTP hardening.
    cors_origins: list[str] = Field(default_factory=list, alias="GOV_CORS_ORIGINS")
    max_body_bytes: int = Field(default=1_048_576, alias="GOV_MAX_BODY_BYTES", ge=1024)
    rate_limit_rps: float = Field(default=50.0, alias="GOV_RATE_LIMIT_RPS", gt=0)
    rate_limit_burst: int = Field(default=200, alias="GOV_RATE_LIMIT_BURST", ge=1)

    def secrets(self) -> dict[str, SecretStr]:
        """The secret settings of this service, checked by :meth:`_refuse_placeholder_secrets`."""
        return {
            name: value
            for name in type(self).model_fields
            if isinstance(value := getattr(self, name), SecretStr)
        }

    @model_validator(mode="after")
    def _inbox_outlives_the_topics(self) -> Self:
        replayable = self.topic_retention_days + self.dead_letter_retention_days
        if self.inbox_retention_days <= replayable:
            raise ValueError(
                f"GOV_INBOX_RETENTION_DAYS={self.inbox_retention_days:g} must be longer than "
                f"GOV_TOPIC_RETENTION_DAYS + GOV_DEAD_LETTER_RETENTION_DAYS = {replayable:g}: "
                "an event id forgotten while a topic still holds the event is handled twice"
            )
        return self

    @model_validator(mode="after")
    def _jwks_refetch_within_lifetime(self) -> Self:
        if self.auth_jwks_min_refetch_s > self.auth_jwks_cache_ttl_s / 2:
            raise ValueError(
                f"GOV_AUTH_JWKS_MIN_REFETCH_S={self.auth_jwks_min_refetch_s:g} must be at most "
                f"half of GOV_AUTH_JWKS_CACHE_TTL_S={self.auth_jwks_cache_ttl_s:g}, or the keys "
                "would expire before they may be fetched again"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        """Outside development and test, every secret must be set to a real value: one left
        unset runs on its development default, which is public (it is in this file)."""
        if self.environment is Environment.DEVELOPMENT or self.environment is Environment.TEST:
            return self
        weak = [
            self.variable_of(name)
            for name, value in self.secrets().items()
            if value.get_secret_value() in DEVELOPMENT_ONLY_SECRETS
        ]
        if weak:
            raise ValueError(
                f"refusing to start in {self.environment.value} (GOV_ENVIRONMENT): set "
                + ", ".join(sorted(weak))
                + " (unset or a development placeholder; the defaults are public)"
            )
        return self

    @classmethod
    def variable_of(cls, name: str) -> str:
        """The environment variable a field is read from."""
        alias = cls.model_fields[name].alias
        return alias if alias else name.upper()

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"
