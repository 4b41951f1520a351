"""Settings of petitions-api (environment variables; see the README for the full list)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from gov_common.settings import ServiceSettings

DATA_DIR = Path(__file__).parent / "data"


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(ServiceSettings):
    service_name: str = "petitions-api"
    database_url: str = Field(
        default="postgresql+asyncpg://gov@127.0.0.1:25432/petitions",
        alias="PETITIONS_DATABASE_URL",
    )
    # CloudEvents ``source`` of every event this service publishes.
    event_source: str = Field(default="/gov/petitions-api", alias="PETITIONS_EVENT_SOURCE")

    # Reference data (org units, categories): versioned files, upserted at startup when enabled.
    org_units_file: Path = Field(
        default=DATA_DIR / "org_units.yintai.yaml", alias="PETITIONS_ORG_UNITS_FILE"
    )
    categories_file: Path = Field(
        default=DATA_DIR / "categories.yintai.yaml", alias="PETITIONS_CATEGORIES_FILE"
    )
    load_reference_data: bool = Field(default=True, alias="PETITIONS_LOAD_REFERENCE_DATA")
    # A pooled connection idle this long is pinged before use (gov_common.db.create_engine).
    db_ping_after_idle_s: float = Field(default=1.0, ge=0, alias="PETITIONS_DB_PING_AFTER_IDLE_S")
    # Reference data is served from memory; another replica's load is seen after at most this.
    reference_cache_ttl_s: float = Field(
        default=30.0, ge=0, alias="PETITIONS_REFERENCE_CACHE_TTL_S"
    )
    # Org-unit levels whose resolutions count as "grassroots" (基层): town and below by default.
    grassroots_levels: Annotated[list[str], NoDecode] = Field(
        default=["town", "village"], alias="PETITIONS_GRASSROOTS_LEVELS"
    )

    # Repeat detection (重复信访): how alike two matters must be (0–100), how far back.
    repeat_similarity: float = Field(
        default=60.0, ge=0, le=100, alias="PETITIONS_REPEAT_SIMILARITY"
    )
    repeat_lookback_days: int = Field(default=730, ge=1, alias="PETITIONS_REPEAT_LOOKBACK_DAYS")

    # Deadline sweep: how often, and how long before a deadline "due soon" fires (e.g. 72h,24h).
    sweep_interval_s: float = Field(default=60.0, gt=0, alias="PETITIONS_SWEEP_INTERVAL_S")
    due_soon_thresholds: Annotated[list[str], NoDecode] = Field(
        default=["72h", "24h"], alias="PETITIONS_DUE_SOON_THRESHOLDS"
    )

    # The city's 12345 rules (the clock table, deadlines/clocks.py): a unit returns a wrongly
    # dispatched ticket within this many working days, and a ticket's time limit may be
    # extended once by at most this many working days (0: hotline tickets are not extended).
    hotline_return_working_days: int = Field(
        default=5, ge=1, le=30, alias="PETITIONS_HOTLINE_RETURN_WORKING_DAYS"
    )
    hotline_extension_max_working_days: int = Field(
        default=5, ge=0, le=30, alias="PETITIONS_HOTLINE_EXTENSION_MAX_WORKING_DAYS"
    )

    # The working-day calendar (deadlines/calendar): official schedules entered through
    # PUT /v1/calendar/{year} are read from memory, re-read after this long in other replicas;
    # a data file of schedules loaded at start-up like the reference data (none: no file); the
    # warning and alert when the known calendar ends within this many days.
    calendar_cache_ttl_s: float = Field(default=30.0, ge=0, alias="PETITIONS_CALENDAR_CACHE_TTL_S")
    calendar_file: Path | None = Field(
        default=DATA_DIR / "holiday_schedules.yaml", alias="PETITIONS_CALENDAR_FILE"
    )
    calendar_warning_days: int = Field(default=60, ge=1, alias="PETITIONS_CALENDAR_WARNING_DAYS")

    # Satisfaction rate: weight of "basically satisfied" (基本满意) between 0 and 1.
    basic_satisfaction_weight: float = Field(
        default=1.0, ge=0, le=1, alias="PETITIONS_BASIC_SATISFACTION_WEIGHT"
    )

    # The district's promise for the first-time grassroots resolution rate (≥ 80%).
    grassroots_target: float = Field(default=0.8, ge=0, le=1, alias="PETITIONS_GRASSROOTS_TARGET")

    # Open311 GeoReport v2 (/open311/v2): the contact and key_service texts of discovery.json,
    # and the public base URL when behind a proxy. Filing clients authenticate with an API key
    # from the shared API-key table (POST /v1/api-keys), sent as Open311's ``api_key`` field of
    # a POST body or the X-API-Key header (never a query string).
    open311_contact: str = Field(
        default="12345 hotline centre of the district", alias="PETITIONS_OPEN311_CONTACT"
    )
    open311_key_service: str = Field(
        default="ask the district's 12345 hotline centre for an API key",
        alias="PETITIONS_OPEN311_KEY_SERVICE",
    )
    open311_base_url: str | None = Field(default=None, alias="PETITIONS_OPEN311_BASE_URL")

    # The built-in token issuer (docs/security.md, "Where the issuer lives"). Signing keys are
    # ``kid:base64url(PEM)``, comma-separated, the first signs; without them development and
    # test generate a key per process, and production runs no issuer (an external IdP signs).
    auth_signing_keys: SecretStr | None = Field(default=None, alias="GOV_AUTH_SIGNING_KEYS")
    # Accounts (clients and people) with scrypt hashes; a development-only file is refused in
    # production. None: the issuer knows nobody and every sign-in is refused.
    auth_accounts_file: Path | None = Field(default=None, alias="GOV_AUTH_ACCOUNTS_FILE")
    auth_token_ttl_s: int = Field(default=3600, ge=60, le=86400, alias="GOV_AUTH_TOKEN_TTL_S")

    _split_lists = field_validator("grassroots_levels", "due_soon_thresholds", mode="before")(
        _split
    )

    @field_validator("due_soon_thresholds")
    @classmethod
    def _thresholds_parse(cls, value: list[str]) -> list[str]:
        from petitions_api.deadlines.days import parse_threshold

        for item in value:
            parse_threshold(item)  # raises "threshold 'x' is not like 72h, 3d or 30m"
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
