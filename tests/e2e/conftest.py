"""The suite as real processes: three uvicorn services and a webhook sink, on loopback.

Each test session starts them once, against its own databases and a topic prefix of its own,
and stops them at the end (SIGTERM, then SIGKILL if they do not go).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gov_common.signing import generate_secret
from gov_common.testing import REPO_ROOT, Infrastructure, TestAuth, UvicornProcess

LOG_DIR = REPO_ROOT / ".local" / "logs" / "e2e"
WEBHOOK_SECRET = generate_secret()  # the built-in webhook's (NOTIFIER_WEBHOOK_URL)


@dataclass
class ServiceProcess(UvicornProcess):
    """A process of the e2e suite, logging to .local/logs/e2e/."""

    log_dir: Path = LOG_DIR


@dataclass
class Suite:
    petitions: ServiceProcess
    targets: ServiceProcess
    notifier: ServiceProcess
    sink: ServiceProcess
    topic_prefix: str
    kafka_bootstrap_servers: str
    auth: TestAuth

    def group(self, service: str) -> str:
        return f"{self.topic_prefix}{service}"


@pytest.fixture(scope="session")
def suite(
    infrastructure: Infrastructure, test_databases: dict[str, str], auth: TestAuth
) -> Iterator[Suite]:
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "GOV_KAFKA_TOPIC_PREFIX": prefix,
        "GOV_ENVIRONMENT": "test",
        "GOV_LOG_LEVEL": "INFO",
        # Spans go to each process's log, where test_observability follows one trace id.
        "OTEL_TRACES_EXPORTER": "console",
        **auth.settings_env,
    }
    sink = ServiceProcess(
        "webhook-sink",
        ["--app-dir", "deploy/local", "webhook_sink:app"],
        {"WEBHOOK_SINK_SECRET": WEBHOOK_SECRET},
        ready_path="/healthz",
    )
    petitions = ServiceProcess(
        "petitions-api",
        ["--factory", "petitions_api.main:create_app"],
        {**common, "PETITIONS_DATABASE_URL": test_databases["petitions"]},
    )
    targets = ServiceProcess(
        "targets-api",
        ["--factory", "targets_api.main:create_app"],
        {
            **common,
            "TARGETS_DATABASE_URL": test_databases["targets"],
            "TARGETS_CONSUMER_GROUP": prefix + "targets-api",
        },
    )
    notifier = ServiceProcess(
        "notifier",
        ["--factory", "notifier.main:create_app"],
        {
            **common,
            "NOTIFIER_DATABASE_URL": test_databases["notifier"],
            "NOTIFIER_CONSUMER_GROUP": prefix + "notifier",
            "NOTIFIER_WEBHOOK_URL": f"{sink.url}/hooks/case-events",
            "NOTIFIER_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "NOTIFIER_RETRY_BASE_S": "0.2",
        },
    )
    processes = [sink, petitions, targets, notifier]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield Suite(
            petitions, targets, notifier, sink, prefix, infrastructure.kafka_bootstrap_servers, auth
        )
    finally:
        for process in reversed(processes):
            process.stop()
