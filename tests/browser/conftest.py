"""The console in headless Chromium against the real suite (issue #10).

The three services run as uvicorn processes on free ports, against this session's fresh
databases (gov_common.testing) and a topic prefix of their own, with petitions-api's built-in
issuer signing in the demonstration accounts (deploy/local/demo-accounts.yaml), exactly as
`make run` does. The console is the built ``frontend/console/dist`` behind
``deploy/local/console_server.py``, which proxies ``/api/<service>`` to the services.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``; Playwright's own
browser download cannot work here) and the built console (``npm ci && npm run build`` in
frontend/console): ``make test`` does both. Screenshots go to tests/browser/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from gov_common.testing import (
    REPO_ROOT,
    SERVICES,
    Infrastructure,
    UvicornProcess,
    create_database,
    drop_database,
    free_port,
    migrate,
    run_coroutine,
)

CHROMIUM = os.environ.get("GOV_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network and a root user (docs: .library env, "Known to work").
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DIST = REPO_ROOT / "frontend" / "console" / "dist"
SCREENSHOTS = Path(__file__).parent / "screenshots"
LOG_DIR = REPO_ROOT / ".local" / "logs" / "browser"
DEMO_ACCOUNTS = REPO_ROOT / "deploy" / "local" / "demo-accounts.yaml"


@dataclass
class Process(UvicornProcess):
    """A process of the browser tests. Auth settings come only from its env: a pinned JWKS
    from outside must not leak in."""

    log_dir: Path = LOG_DIR
    drop_env_prefixes: tuple[str, ...] = ("GOV_AUTH_",)


@dataclass
class ConsoleSuite:
    console: Process
    petitions: Process
    targets: Process

    @property
    def url(self) -> str:
        return self.console.url

    def token(self, account: str) -> str:
        """A demo account's token, by the password grant the console itself uses."""
        answer = httpx.post(
            f"{self.petitions.url}/oauth/token",
            data={"grant_type": "password", "username": account, "password": f"{account}-demo"},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def api(self, account: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.petitions.url,
            headers={"Authorization": f"Bearer {self.token(account)}"},
            timeout=15,
        )


def _require_prerequisites() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install -y chromium)")
    if not (DIST / "index.html").is_file():
        build = "cd frontend/console && npm ci && npm run build"
        missing.append(f"the built console in {DIST} ({build})")
    if missing:
        pytest.fail("browser tests need " + " and ".join(missing) + "; `make test` installs both")


@pytest.fixture(scope="session")
def console_databases(infrastructure: Infrastructure) -> Iterator[dict[str, str]]:
    """Databases of the browser tests' own (not the e2e suite's): the absolute figures the
    dashboard shows must count only what these tests did."""
    run_id = uuid.uuid4().hex[:8]
    created: dict[str, str] = {}
    try:
        for service in SERVICES:
            admin = infrastructure.admin_url(service)
            name = f"{service}_console{run_id}"
            run_coroutine(create_database(admin, name))
            url = str(make_url(infrastructure.database_urls[service]).set(database=name))
            created[service] = url
            migrate(service, url)
        yield created
    finally:
        for service, url in created.items():
            name = make_url(url).database or ""
            run_coroutine(drop_database(infrastructure.admin_url(service), name))


@pytest.fixture(scope="session")
def console_suite(
    infrastructure: Infrastructure, console_databases: dict[str, str]
) -> Iterator[ConsoleSuite]:
    _require_prerequisites()
    test_databases = console_databases
    prefix = f"br{uuid.uuid4().hex[:8]}."
    petitions_port = free_port()
    issuer = f"http://127.0.0.1:{petitions_port}"
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "GOV_KAFKA_TOPIC_PREFIX": prefix,
        "GOV_ENVIRONMENT": "test",
        "GOV_AUTH_ISSUER": issuer,
        "GOV_AUTH_AUDIENCE": "gov-suite",
    }
    verifier = {**common, "GOV_AUTH_JWKS_URL": f"{issuer}/.well-known/jwks.json"}
    petitions = Process(
        "petitions-api",
        ["--factory", "petitions_api.main:create_app"],
        {
            **common,
            "PETITIONS_DATABASE_URL": test_databases["petitions"],
            "GOV_AUTH_ACCOUNTS_FILE": str(DEMO_ACCOUNTS),
        },
        port=petitions_port,
    )
    targets_env = {
        **verifier,
        "TARGETS_DATABASE_URL": test_databases["targets"],
        "TARGETS_CONSUMER_GROUP": prefix + "targets-api",
    }
    targets = Process("targets-api", ["--factory", "targets_api.main:create_app"], targets_env)
    notifier = Process(
        "notifier",
        ["--factory", "notifier.main:create_app"],
        {
            **verifier,
            "NOTIFIER_DATABASE_URL": test_databases["notifier"],
            "NOTIFIER_CONSUMER_GROUP": prefix + "notifier",
            # No sink here: deliveries fail and retry, which the console does not look at.
            "NOTIFIER_WEBHOOK_URL": "http://127.0.0.1:9/unused",
        },
    )
    # The work-report catalogue, as `make run` seeds it.
    subprocess.run(
        [sys.executable, "-m", "targets_api.cli", "seed"],
        cwd=REPO_ROOT,
        env={**os.environ, **targets_env},
        check=True,
        capture_output=True,
    )
    services = [petitions, targets, notifier]
    console = Process(
        "console",
        ["--app-dir", "deploy/local", "console_server:app"],
        {
            "CONSOLE_DIST": str(DIST),
            "CONSOLE_PETITIONS_URL": petitions.url,
            "CONSOLE_TARGETS_URL": targets.url,
            "CONSOLE_NOTIFIER_URL": notifier.url,
        },
        ready_path="/healthz",
    )
    processes = [*services, console]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield ConsoleSuite(console, petitions, targets)
    finally:
        for process in reversed(processes):
            process.stop()


# Per module, not per session: Playwright's sync API runs an event loop in this thread, which
# must be gone before other modules' fixtures call run_coroutine().
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    _require_prerequisites()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
