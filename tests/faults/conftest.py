"""Fixtures of the fault scenarios: migrated template databases, fresh copies per scenario,
and a stack of service processes on its own topic prefix that is always stopped at the end.

Each scenario gets new databases (``CREATE DATABASE … TEMPLATE``, a copy of a migrated
template, so no migration runs per scenario) and a topic prefix of its own, so what one
scenario breaks or counts never leaks into another or into the e2e suite.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import make_url

from gov_common.signing import generate_secret
from gov_common.testing import (
    SERVICES,
    Infrastructure,
    TestAuth,
    create_database,
    drop_database,
    migrate,
    run_coroutine,
)

from .harness import Service, counting_sink, service

PACKAGES = {"petitions": "petitions_api", "targets": "targets_api", "notifier": "notifier"}
DATABASE_VARIABLES = {s: variable for s, (variable, _) in SERVICES.items()}


@pytest.fixture(scope="session")
def fault_templates(infrastructure: Infrastructure) -> Iterator[dict[str, str]]:
    """One migrated database per service that scenarios copy: service → template name."""
    run = uuid.uuid4().hex[:8]
    made: dict[str, str] = {}
    try:
        for name in SERVICES:
            template = f"{name}_ftpl{run}"
            run_coroutine(create_database(infrastructure.admin_url(name), template))
            made[name] = template
            migrate(
                name,
                str(make_url(infrastructure.database_urls[name]).set(database=template)),
            )
        yield made
    finally:
        for name, template in made.items():
            run_coroutine(drop_database(infrastructure.admin_url(name), template))


async def _copy_database(admin_url: str, name: str, template: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    try:
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await connection.close()


@dataclass
class Stack:
    """The scenario's processes, databases and topics; services are started on demand."""

    infrastructure: Infrastructure
    auth: TestAuth
    templates: dict[str, str]
    prefix: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:8]}.")
    webhook_secret: str = field(default_factory=generate_secret)
    databases: dict[str, str] = field(default_factory=dict)
    processes: list[Service] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.infrastructure.kafka_bootstrap_servers

    def topic(self, name: str) -> str:
        return self.prefix + name

    def group(self, service_name: str) -> str:
        return self.prefix + service_name

    async def database(self, name: str) -> str:
        """This scenario's own database of service ``name`` (a copy of the template)."""
        if name not in self.databases:
            admin = self.infrastructure.admin_url(name)
            database = f"{name}_f{uuid.uuid4().hex[:8]}"
            await _copy_database(admin, database, self.templates[name])
            self.databases[name] = str(
                make_url(self.infrastructure.database_urls[name]).set(database=database)
            )
        return self.databases[name]

    def common_env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "GOV_KAFKA_TOPIC_PREFIX": self.prefix,
            "GOV_ENVIRONMENT": "test",
            "GOV_LOG_LEVEL": "INFO",
            "GOV_OUTBOX_POLL_INTERVAL_S": "0.5",
            # The test is one client sending a steady load; the limit is not under test here.
            "GOV_RATE_LIMIT_RPS": "5000",
            "GOV_RATE_LIMIT_BURST": "5000",
            **self.auth.settings_env,
        }

    async def service(self, name: str, *, replica: int = 0, **env: str) -> Service:
        """A (not yet started) process of service ``name`` on this scenario's database;
        replicas of one service share the database, the topics and the consumer group."""
        variables = {
            DATABASE_VARIABLES[name]: await self.database(name),
            **self.common_env(),
        }
        if name == "targets":
            variables["TARGETS_CONSUMER_GROUP"] = self.group("targets-api")
        if name == "notifier":
            variables |= {
                "NOTIFIER_CONSUMER_GROUP": self.group("notifier"),
                "NOTIFIER_WEBHOOK_SECRET": self.webhook_secret,
                "NOTIFIER_RETRY_BASE_S": "0.2",
                "NOTIFIER_RETRY_CAP_S": "2",
                "NOTIFIER_WEBHOOK_TIMEOUT_S": "3",
                "NOTIFIER_SMTP_TIMEOUT_S": "3",
                # Deliveries claimed by a killed process are due again this soon.
                "NOTIFIER_CLAIM_LEASE_S": "5",
            }
        label = f"{self.prefix.rstrip('.')}-{name}" + (f"-{replica}" if replica else "")
        process = service(label, PACKAGES[name], {**variables, **env})
        self.processes.append(process)
        return process

    def sink(self) -> Service:
        process = counting_sink(f"{self.prefix.rstrip('.')}-sink", self.webhook_secret)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
async def stack(
    infrastructure: Infrastructure, auth: TestAuth, fault_templates: dict[str, str]
) -> AsyncIterator[Stack]:
    built = Stack(infrastructure, auth, fault_templates)
    try:
        yield built
    finally:
        await asyncio.to_thread(built.stop_all)
        for name, url in built.databases.items():
            await drop_database(infrastructure.admin_url(name), make_url(url).database or "")
