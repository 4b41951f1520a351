"""Pytest plugin: real PostgreSQL and Kafka for the suite's tests (loaded with ``-p``).

Where the servers come from, in order:

1. the environment (``PETITIONS_DATABASE_URL`` … and ``KAFKA_BOOTSTRAP_SERVERS``), which is
   what ``make test`` sets after ``deploy/local/infra.sh start``;
2. testcontainers, when a Docker engine answers and nothing is configured;
3. ``deploy/local/infra.sh start``, run by the fixture itself.

Every test session gets fresh databases (``<service>_t<hex>``) migrated with Alembic, and
every test its own topic prefix, so runs neither see each other's data nor depend on order.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy.engine import make_url

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[4]
INFRA_SCRIPT = REPO_ROOT / "deploy" / "local" / "infra.sh"
SERVICES = {
    "petitions": ("PETITIONS_DATABASE_URL", "services/petitions-api/alembic.ini"),
    "targets": ("TARGETS_DATABASE_URL", "services/targets-api/alembic.ini"),
    "notifier": ("NOTIFIER_DATABASE_URL", "services/notifier/alembic.ini"),
}


@dataclass
class Infrastructure:
    """Where the tests' PostgreSQL and Kafka are, and whether the tests may stop them."""

    database_urls: dict[str, str]
    kafka_bootstrap_servers: str
    origin: str  # "environment", "testcontainers" or "deploy/local"
    kafka_controllable: bool = False
    postgres_controllable: bool = False
    _containers: list[Any] = field(default_factory=list)

    def admin_url(self, service: str) -> str:
        return str(make_url(self.database_urls[service]).set(database="postgres"))

    def stop_kafka(self) -> None:
        self._kafka_command("stop")

    def start_kafka(self) -> None:
        self._kafka_command("start")

    def _kafka_command(self, action: str) -> None:
        if not self.kafka_controllable:
            pytest.skip(f"Kafka from {self.origin} cannot be stopped and started by the tests")
        subprocess.run(  # noqa: S603
            [str(INFRA_SCRIPT), action, "kafka"], check=True, env=_without_kafka_override()
        )

    def stop_postgres(self) -> None:
        """Stop the local PostgreSQL (fast shutdown: every open session is cut)."""
        self._postgres_command("stop")

    def start_postgres(self) -> None:
        self._postgres_command("start")

    def _postgres_command(self, action: str) -> None:
        if not self.postgres_controllable:
            pytest.skip(f"PostgreSQL from {self.origin} cannot be stopped and started by the tests")
        subprocess.run(  # noqa: S603
            [str(INFRA_SCRIPT), action, "pg"], check=True, env=_without_database_override()
        )


def _docker_engine_reachable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"],  # noqa: S607
                capture_output=True,
                timeout=10,
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def _infra_env_lines() -> dict[str, str]:
    output = subprocess.run(  # noqa: S603
        [str(INFRA_SCRIPT), "env"], check=True, capture_output=True, text=True
    ).stdout
    found: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("export ") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = shlex.split(value)[0] if value else ""
    return found


def _without_kafka_override() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}


def _without_database_override() -> dict[str, str]:
    # With all three URLs set, infra.sh takes PostgreSQL for an external server it must not touch.
    names = {variable for variable, _ in SERVICES.values()}
    return {k: v for k, v in os.environ.items() if k not in names}


def _postgres_is_ours(urls: dict[str, str]) -> bool:
    """True when every URL points at the PostgreSQL that deploy/local runs (and may restart)."""
    local_port = int(os.environ.get("GOV_PG_PORT", "25432"))
    for url in urls.values():
        parsed = make_url(url)
        if parsed.host not in ("127.0.0.1", "localhost") or (parsed.port or 5432) != local_port:
            return False
    status = subprocess.run(  # noqa: S603
        [str(INFRA_SCRIPT), "status", "pg"],
        capture_output=True,
        check=False,
        env=_without_database_override(),
    )
    return status.returncode == 0


def _kafka_is_ours(bootstrap: str) -> bool:
    """True when ``bootstrap`` is the broker that deploy/local runs (and so may restart)."""
    local_port = os.environ.get("GOV_KAFKA_PORT", "29092")
    if bootstrap not in (f"127.0.0.1:{local_port}", f"localhost:{local_port}"):
        return False
    status = subprocess.run(  # noqa: S603
        [str(INFRA_SCRIPT), "status", "kafka"],
        capture_output=True,
        check=False,
        env=_without_kafka_override(),
    )
    return status.returncode == 0


def discover_infrastructure() -> Infrastructure:
    env_urls = {s: os.environ.get(var) for s, (var, _) in SERVICES.items()}
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if all(env_urls.values()) and kafka:
        # make test: deploy/local started the servers, so the tests may also stop and start them.
        urls = {s: u for s, u in env_urls.items() if u}
        return Infrastructure(
            urls, kafka, "environment", _kafka_is_ours(kafka), _postgres_is_ours(urls)
        )
    if not any(env_urls.values()) and not kafka and _docker_engine_reachable():
        return _start_testcontainers()
    subprocess.run([str(INFRA_SCRIPT), "start"], check=True)  # noqa: S603
    found = _infra_env_lines()
    urls = {s: env_urls[s] or found[var] for s, (var, _) in SERVICES.items()}
    bootstrap = kafka or found["KAFKA_BOOTSTRAP_SERVERS"]
    return Infrastructure(
        {s: u for s, u in urls.items() if u},
        bootstrap,
        "deploy/local",
        kafka is None,
        not any(env_urls.values()),
    )


def _start_testcontainers() -> Infrastructure:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    password = secrets.token_hex(12)
    postgres = PostgresContainer(
        "postgres:15", username="gov", password=password, dbname="postgres"
    )
    postgres.start()
    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    kafka.start()
    base = make_url(postgres.get_connection_url()).set(drivername="postgresql+asyncpg")
    urls = {s: str(base.set(database=s)) for s in SERVICES}
    infra = Infrastructure(urls, kafka.get_bootstrap_server(), "testcontainers")
    infra._containers = [postgres, kafka]
    return infra


async def create_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(admin_url: str, name: str) -> None:
    connection = await asyncpg.connect(admin_url.replace("+asyncpg", ""))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even where an event loop already runs in
    this thread (an async test's, or Playwright's): on a thread of its own."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def migrate(service: str, url: str) -> None:
    """Apply a service's Alembic migrations, exactly as ``make migrate`` does."""
    variable, ini = SERVICES[service]
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "alembic", "-c", str(REPO_ROOT / ini), "upgrade", "head"],
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, variable: url},
    )


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    infra = discover_infrastructure()
    yield infra
    for container in infra._containers:  # pragma: no cover - needs a Docker engine
        container.stop()


@pytest.fixture(scope="session")
def test_databases(infrastructure: Infrastructure) -> Iterator[dict[str, str]]:
    """One fresh, migrated database per service for this test session: name → URL."""
    run_id = uuid.uuid4().hex[:8]
    created: dict[str, str] = {}
    try:
        for service in SERVICES:
            name = f"{service}_t{run_id}"
            run_coroutine(create_database(infrastructure.admin_url(service), name))
            url = str(make_url(infrastructure.database_urls[service]).set(database=name))
            created[service] = url
            migrate(service, url)
        yield created
    finally:
        for service, url in created.items():
            run_coroutine(
                drop_database(infrastructure.admin_url(service), make_url(url).database or "")
            )


@pytest.fixture
def topic_prefix() -> str:
    """A prefix of this test's own: its topics and consumer groups are new and empty."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def kafka_admin(infrastructure: Infrastructure) -> AsyncIterator[Any]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    await admin.start()
    yield admin
    await admin.close()


@dataclass
class TestAuth:
    """A token issuer of the test session's own, and the settings that make services trust it."""

    __test__ = False  # a helper, not a test class, though its name starts with "Test"

    issuer: Any
    jwks_json: str
    issuer_url: str = "https://auth.test.invalid"
    audience: str = "gov-suite"

    def token(self, *roles: str, org_unit: str | None = None, subject: str | None = None) -> str:
        from gov_common.security.principal import Role

        parsed = [Role(r) for r in roles]
        name = subject or f"test-{'-'.join(roles) or 'nobody'}"
        return str(self.issuer.issue(name, parsed, org_unit=org_unit))

    def headers(
        self, *roles: str, org_unit: str | None = None, subject: str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, org_unit=org_unit, subject=subject)}"}

    @property
    def settings_env(self) -> dict[str, str]:
        """Environment variables (or settings aliases) for a service to verify these tokens."""
        return {
            "GOV_AUTH_ISSUER": self.issuer_url,
            "GOV_AUTH_AUDIENCE": self.audience,
            "GOV_AUTH_JWKS": self.jwks_json,
        }


@pytest.fixture(scope="session")
def auth() -> TestAuth:
    import orjson

    from gov_common.security.tokens import SigningKey, TokenIssuer

    test_auth = TestAuth(issuer=None, jwks_json="")
    issuer = TokenIssuer(
        issuer=test_auth.issuer_url, audience=test_auth.audience, keys=[SigningKey.generate()]
    )
    test_auth.issuer = issuer
    test_auth.jwks_json = orjson.dumps(issuer.jwks()).decode()
    return test_auth


@pytest.fixture
def spans() -> Iterator[Any]:
    """The spans this test finishes, in memory. The global tracer provider can be set once per
    process, so the first user installs an SDK provider and later ones add a processor to it."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    processor.shutdown()  # stops it exporting; the provider keeps a shut-down processor


# ------------------------------------------------------------------------- processes


def consumer_record(
    topic: str,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    *,
    offset: int = 0,
    key: bytes = b"k",
) -> ConsumerRecord[bytes, bytes]:
    """A record as the consumer fetches it, to feed ``IdempotentConsumer`` without Kafka."""
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value or b""),
        headers=tuple(headers),
    )


def free_port() -> int:
    """A port free on loopback now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class UvicornProcess:
    """One uvicorn process on loopback — a service, a sink, the console — as the e2e, fault
    and browser tests run them: its log in ``log_dir``, readiness polled, always stoppable."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path = REPO_ROOT / ".local" / "logs" / "tests"
    port: int = field(default_factory=free_port)
    ready_path: str = "/readyz"
    # Variables of the test process not handed down (e.g. GOV_AUTH_: a pinned JWKS from
    # outside must not leak into a process that trusts only its own issuer).
    drop_env_prefixes: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "uvicorn", *self.args, "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-access-log"]
        inherited = {
            k: v for k, v in os.environ.items() if not k.startswith(self.drop_env_prefixes or "\0")
        }
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start {datetime.now(UTC).isoformat()} ====\n".encode())
            log.flush()
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, cwd=REPO_ROOT, env={**inherited, **self.env}, stdout=log, stderr=log
            )

    def _check_alive(self) -> None:
        assert self.process is not None, f"{self.name} was never started"
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited: see {self.log_path}")

    def wait_ready(self, timeout_s: float = 120) -> None:
        """Until ``ready_path`` answers 200 (from sync code)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s: see {self.log_path}")

    async def ready(self, timeout_s: float = 120) -> None:
        """Until ``ready_path`` answers 200 (from async code: the loop keeps running)."""
        async with httpx.AsyncClient(timeout=2) as http:
            try:
                async with asyncio.timeout(timeout_s):
                    while True:
                        self._check_alive()
                        try:
                            if (await http.get(self.url + self.ready_path)).status_code == 200:
                                return
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.2)
            except TimeoutError:
                raise TimeoutError(
                    f"{self.name} not ready after {timeout_s}s: see {self.log_path}"
                ) from None

    async def launch(self) -> UvicornProcess:
        self.start()
        await self.ready()
        return self

    def stop(self, sig: int | None = None, timeout_s: float = 20) -> int | None:
        """Send ``sig`` (SIGTERM by default) and wait; SIGKILL if it does not go. Its exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if sig is None else sig)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
