"""The suite as real processes: three uvicorn services and a webhook sink, on loopback.

Each test session starts them once, against its own databases and a topic prefix of its own,
and stops them at the end (SIGTERM, then SIGKILL if they do not go).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from gov_common.testing import REPO_ROOT, Infrastructure, TestAuth

LOG_DIR = REPO_ROOT / ".local" / "logs" / "e2e"
WEBHOOK_SECRET = "e2e-webhook-secret-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    name: str
    args: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    ready_path: str = "/readyz"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return LOG_DIR / f"{self.name}.log"

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            *self.args,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log
            )

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s: see {self.log_path}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


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
