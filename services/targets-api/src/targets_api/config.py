"""Settings of targets-api (environment variables; see the README for the full list)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from gov_common.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "targets-api"
    database_url: str = Field(
        default="postgresql+asyncpg://gov@127.0.0.1:25432/targets", alias="TARGETS_DATABASE_URL"
    )
    consumer_group: str = Field(default="targets-api", alias="TARGETS_CONSUMER_GROUP")
    # CloudEvents ``source`` of every event this service publishes.
    event_source: str = Field(default="/gov/targets-api", alias="TARGETS_EVENT_SOURCE")

    # Status thresholds. Cumulative targets (at least / exact) compare the value with the
    # expected-by-now value (baseline + share of the period elapsed × the way to go):
    # progress ≥ on_track_ratio of it is on track, ≥ at_risk_ratio at risk, below that off track.
    status_on_track_ratio: float = Field(
        default=0.9, alias="TARGETS_STATUS_ON_TRACK_RATIO", gt=0, le=1
    )
    status_at_risk_ratio: float = Field(
        default=0.7, alias="TARGETS_STATUS_AT_RISK_RATIO", gt=0, le=1
    )
    # Level targets (rates, at-most ceilings) are at risk within this relative margin of the
    # target (e.g. 0.1: a ≥ 80% rate at 72–80% is at risk, an ≤ 4% ceiling at 4–4.4%).
    status_level_tolerance: float = Field(
        default=0.1, alias="TARGETS_STATUS_LEVEL_TOLERANCE", ge=0, lt=1
    )

    # A department that has not reported on an indicator for this many days gets a reminder
    # event, and again every this many days until it reports.
    report_reminder_days: int = Field(default=30, alias="TARGETS_REPORT_REMINDER_DAYS", ge=1)
    # How often the sweep (statuses that change with time, reminders) runs.
    sweep_interval_s: float = Field(default=3600.0, alias="TARGETS_SWEEP_INTERVAL_S", gt=0)

    # Where readers find the petitions figures behind a live indicator. Placeholders:
    # {base} (petitions_base_url), {start}, {end} (ISO dates of the period).
    petitions_base_url: str = Field(
        default="http://127.0.0.1:8101", alias="TARGETS_PETITIONS_BASE_URL"
    )
    petitions_metric_url: str = Field(
        default="{base}/v1/metrics/first-time-grassroots-resolution?from={start}&to={end}",
        alias="TARGETS_PETITIONS_METRIC_URL",
    )
    petitions_cases_url: str = Field(
        default="{base}/v1/metrics/first-time-grassroots-resolution/cases?from={start}&to={end}",
        alias="TARGETS_PETITIONS_CASES_URL",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
