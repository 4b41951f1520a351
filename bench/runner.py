"""The benchmark, start to end: databases, processes, every figure, the table and the JSON.

Runs against the PostgreSQL and Kafka named by the environment (``deploy/local/with-infra.sh``
provides them under ``make bench``). Everything it creates is its own: databases ``bench_*``,
topics and consumer groups under a ``bench<run>.`` prefix, processes on free ports. It stops
the processes and drops the databases at the end (``BENCH_KEEP_DATABASES=1`` keeps them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import platform
import secrets
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy.engine import make_url

from bench import floors, metrics_check, profile, report
from bench.config import REPO_ROOT, RESULTS_DIR, BenchConfig
from bench.load import LoadResult, closed_loop, open_loop, percentile
from bench.payloads import Credentials, intake_requests
from bench.procs import Process, RssSampler
from bench.seed import previous_year, seed_cases
from gov_common.security.principal import Role
from gov_common.signing import generate_secret

ALEMBIC = {
    "petitions": ("PETITIONS_DATABASE_URL", "services/petitions-api/alembic.ini"),
    "targets": ("TARGETS_DATABASE_URL", "services/targets-api/alembic.ini"),
    "notifier": ("NOTIFIER_DATABASE_URL", "services/notifier/alembic.ini"),
}


def say(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Bench:
    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.run_id = uuid.uuid4().hex[:8]
        base = os.environ.get("PETITIONS_DATABASE_URL")
        if not base or not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            raise SystemExit(
                "run through deploy/local/with-infra.sh (make bench), or eval "
                '"$(deploy/local/infra.sh env)" first: PETITIONS_DATABASE_URL and '
                "KAFKA_BOOTSTRAP_SERVERS are needed"
            )
        self.server = make_url(base)
        self.kafka = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        self.databases = {s: f"bench_{s}" for s in ("petitions", "targets", "notifier", "floor")}
        self.prefix = f"bench{self.run_id}."
        self.secret = generate_secret()
        self.credentials = Credentials()
        self.operator = self.credentials.headers(Role.OPERATOR)
        self.pii_keys = (f"bench:{_key()}", _key())
        self.results: dict[str, Any] = {}
        self.processes: list[Process] = []

    # ------------------------------------------------------------------ set-up

    def url(self, service: str, *, driver: str = "postgresql+asyncpg") -> str:
        return str(
            self.server.set(drivername=driver, database=self.databases[service]).render_as_string(
                hide_password=False
            )
        )

    def dsn(self, service: str) -> str:
        return self.url(service, driver="postgresql")

    async def create_databases(self) -> None:
        admin = await asyncpg.connect(
            self.server.set(drivername="postgresql", database="postgres").render_as_string(
                hide_password=False
            )
        )
        try:
            for name in self.databases.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        for service, (variable, ini) in ALEMBIC.items():
            say(f"migrating {self.databases[service]}")
            await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "alembic", "-c", ini, "upgrade", "head"],
                cwd=REPO_ROOT,
                check=True,
                env={**os.environ, **self.common_env, variable: self.url(service)},
                stdout=subprocess.DEVNULL,
            )
        # As suite.sh does: the work-report catalogue in targets-api.
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "targets_api.cli", "seed"],
            cwd=REPO_ROOT,
            check=True,
            env={**os.environ, **self.common_env, "TARGETS_DATABASE_URL": self.url("targets")},
            stdout=subprocess.DEVNULL,
        )

    async def drop_databases(self) -> None:
        admin = await asyncpg.connect(
            self.server.set(drivername="postgresql", database="postgres").render_as_string(
                hide_password=False
            )
        )
        try:
            for name in self.databases.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    @property
    def common_env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "GOV_KAFKA_TOPIC_PREFIX": self.prefix,
            "GOV_ENVIRONMENT": os.environ.get("BENCH_ENVIRONMENT", "production"),
            "GOV_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            # Rate limiting would measure the limiter, not the service.
            "GOV_RATE_LIMIT_RPS": "1000000",
            "GOV_RATE_LIMIT_BURST": "1000000",
            "GOV_PII_KEYS": self.pii_keys[0],
            "GOV_PII_ACTIVE_KEY": "bench",
            "GOV_PII_INDEX_KEY": self.pii_keys[1],
            "NOTIFIER_WEBHOOK_SECRET": self.secret,
            "OTEL_TRACES_EXPORTER": "none",
            **self.credentials.service_env,
        }

    def build_processes(self) -> None:
        log_dir = self.config.log_dir
        common = self.common_env
        self.sink = Process(
            "webhook-sink",
            ["bench.sink:app"],
            {"WEBHOOK_SINK_SECRET": self.secret},
            log_dir,
            ready_path="/healthz",
        )
        self.floor = Process(
            "intake-floor", ["bench.floor_app:app"], {"BENCH_FLOOR_DSN": self.dsn("floor")}, log_dir
        )
        self.petitions = Process(
            "petitions-api",
            ["--factory", "petitions_api.main:create_app"],
            {**common, "PETITIONS_DATABASE_URL": self.url("petitions")},
            log_dir,
        )
        self.targets = Process(
            "targets-api",
            ["--factory", "targets_api.main:create_app"],
            {
                **common,
                "TARGETS_DATABASE_URL": self.url("targets"),
                "TARGETS_CONSUMER_GROUP": self.prefix + "targets-api",
            },
            log_dir,
        )
        self.notifier = Process(
            "notifier",
            ["--factory", "notifier.main:create_app"],
            {
                **common,
                "NOTIFIER_DATABASE_URL": self.url("notifier"),
                "NOTIFIER_CONSUMER_GROUP": self.prefix + "notifier",
                "NOTIFIER_WEBHOOK_URL": f"{self.sink.url}/hooks/case-events",
                "NOTIFIER_WEBHOOK_SECRET": self.secret,
                # The per-channel throttle (50 webhooks/s by default) is configuration that
                # protects receivers; lifted, the figure is what the notifier itself can do.
                "NOTIFIER_RATE_LIMITS": "webhook=1000000/1,email=10/1,sms=10/1,"
                "wecom=20/60,dingtalk=20/60",
            },
            log_dir,
        )
        self.processes = [self.sink, self.floor, self.petitions, self.targets, self.notifier]

    async def start(self, process: Process) -> float:
        process.start()
        took = await process.wait_ready()
        say(f"{process.name} ready in {took:.2f} s (port {process.port})")
        return took

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    # ------------------------------------------------------------------ helpers

    async def sink_arrivals(self) -> dict[str, float]:
        async with httpx.AsyncClient(timeout=30) as http:
            data = (await http.get(self.sink.url + "/arrivals")).json()
        if data["counts"]["bad_signature"]:
            raise RuntimeError(f"the sink refused {data['counts']['bad_signature']} signatures")
        return dict(data["arrivals"])

    async def wait_arrivals(self, keys: set[str], timeout_s: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout_s
        while True:
            arrivals = await self.sink_arrivals()
            if keys <= arrivals.keys() or time.monotonic() > deadline:
                return {k: arrivals[k] for k in keys if k in arrivals}
            await asyncio.sleep(0.5)

    async def case_ids(self) -> set[str]:
        connection = await asyncpg.connect(self.dsn("petitions"))
        try:
            return {str(r["id"]) for r in await connection.fetch("SELECT id FROM cases")}
        finally:
            await connection.close()

    async def wait_outbox_drained(self, timeout_s: float = 300) -> None:
        connection = await asyncpg.connect(self.dsn("petitions"))
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    unsent = await connection.fetchval(
                        "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                    )
                    if not unsent:
                        break
                    await asyncio.sleep(0.5)
        finally:
            await connection.close()

    async def wait_all_delivered(self, timeout_s: float) -> None:
        """Every case so far has reached the sink (the notifier has no backlog)."""
        await self.wait_outbox_drained()
        ids = await self.case_ids()
        got = await self.wait_arrivals(ids, timeout_s)
        if len(got) < len(ids):
            say(f"warning: {len(ids) - len(got)} webhooks still missing after {timeout_s:.0f} s")

    async def wait_targets_caught_up(self, total: int, timeout_s: float = 300) -> None:
        headers = self.credentials.headers(Role.ADMIN)
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=30) as http:
            while time.monotonic() < deadline:
                response = await http.get(
                    self.targets.url + "/v1/live/case-events", headers=headers
                )
                counts = response.json().get("counts", {}) if response.status_code == 200 else {}
                if sum(counts.values()) >= total:
                    return
                await asyncio.sleep(1)
        say("warning: targets-api had not caught up with the case events")

    def intake(self) -> Any:
        return intake_requests(self.operator, seed=int(time.time() * 1000) % 1_000_000)

    async def pg_waits(self, database: str, stop: asyncio.Event) -> dict[str, int]:
        """What the database's sessions were doing, sampled every 0.2 s while a load ran."""
        seen: dict[str, int] = {}
        connection = await asyncpg.connect(self.dsn("petitions"))
        try:
            while not stop.is_set():
                rows = await connection.fetch(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what,"
                    " count(*) AS n FROM pg_stat_activity"
                    " WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()"
                    " GROUP BY 1",
                    database,
                )
                for row in rows:
                    seen[row["what"]] = seen.get(row["what"], 0) + row["n"]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)
        finally:
            await connection.close()
        return dict(sorted(seen.items(), key=lambda kv: -kv[1]))

    async def saturate(
        self, url: str, label: str, *, pid: int = 0, profile_as: str = ""
    ) -> LoadResult:
        cfg = self.config
        say(
            f"intake at saturation: {label} ({cfg.concurrency} clients, "
            f"{cfg.saturation_s:.0f} s after {cfg.warmup_s:.0f} s warm-up)"
        )
        profiler = None
        if profile_as and profile.enabled():
            profiler = await profile.record(
                pid, profile_as, self.config.warmup_s + self.config.saturation_s
            )
        stop = asyncio.Event()
        database = self.databases["petitions" if pid else "floor"]
        waits = asyncio.create_task(self.pg_waits(database, stop))
        result = await closed_loop(
            url,
            self.intake(),
            concurrency=self.config.concurrency,
            warmup_s=self.config.warmup_s,
            duration_s=self.config.saturation_s,
        )
        stop.set()
        result.extra["pg_active_sessions_sampled"] = await waits
        if profiler is not None:
            await profiler.wait()
            print(profile.summarise(profile_as))
        say(f"  {result.throughput:.1f} req/s, p99 {percentile(result.latencies_ms, 99):.1f} ms, "
            f"statuses {dict(result.statuses)}")  # fmt: skip
        return result

    # ------------------------------------------------------------------ phases

    async def event_latency(self) -> None:
        cfg = self.config
        say(f"event latency: {cfg.latency_samples} cases at {cfg.latency_rate:.0f}/s")
        result = await open_loop(
            self.petitions.url,
            self.intake(),
            rate=cfg.latency_rate,
            duration_s=cfg.latency_samples / cfg.latency_rate,
            keep=lambda response, at: (response.json()["id"], at),
        )
        sent = dict(result.responses)
        arrivals = await self.wait_arrivals(set(sent), timeout_s=120)
        service = [(arrivals[k] - sent[k]) * 1000 for k in sent if k in arrivals]
        say("event latency floor: aiokafka round trip + one httpx POST")
        floor_sent = await floors.event_floor(
            bootstrap=self.kafka,
            topic=f"{self.prefix}bench.floor",
            sink_url=f"{self.sink.url}/hooks/floor",
            secret=self.secret,
            samples=cfg.latency_samples,
            rate=cfg.latency_rate,
        )
        floor_arrivals = await self.wait_arrivals(set(floor_sent), timeout_s=60)
        floor = [(floor_arrivals[k] - floor_sent[k]) * 1000 for k in floor_arrivals]
        self.results["event_latency"] = {
            "samples": len(service),
            "missing": len(sent) - len(service),
            "service_p50_ms": round(percentile(service, 50) or 0, 2),
            "service_p99_ms": round(percentile(service, 99) or 0, 2),
            "floor_samples": len(floor),
            "floor_p50_ms": round(percentile(floor, 50) or 0, 2),
            "floor_p99_ms": round(percentile(floor, 99) or 0, 2),
            "intake_statuses": {str(k): v for k, v in result.statuses.items()},
        }
        say(f"  {self.results['event_latency']}")

    async def notifier_throughput(self, backlog: set[str]) -> None:
        """Start the notifier on a backlog of case events; how fast webhooks reach the sink."""
        say(f"notifier: draining a backlog of {len(backlog)} case events")
        await self.start(self.notifier)
        profiler = None
        if profile.enabled():  # the drain's first part (it lasts about backlog / 130 s here)
            profiler = await profile.record(
                self.notifier.pid, "notifier-drain", min(60, max(5, len(backlog) / 200))
            )
        arrivals = await self.wait_arrivals(backlog, timeout_s=max(180, len(backlog) / 10))
        if profiler is not None:
            await profiler.wait()
            print(profile.summarise("notifier-drain"))
        times = sorted(arrivals.values())
        per_s = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        # The floor posts bodies the size of the notifier's webhooks.
        floor = await floors.delivery_floor(
            sink_url=f"{self.sink.url}/hooks/floor",
            secret=self.secret,
            count=max(500, min(len(backlog), 5000)),
            concurrency=self.config.delivery_concurrency,
            body_size=1200,
        )
        self.results["notifier"] = {
            "backlog": len(backlog),
            "delivered": len(arrivals),
            "deliveries_per_s": round(per_s, 1),
            "first_to_last_s": round(times[-1] - times[0], 2) if times else None,
            "floor": floor,
            "concurrency": self.config.delivery_concurrency,
        }
        say(f"  {per_s:.1f} deliveries/s; floor {floor['per_s']}/s")

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        started = time.perf_counter()
        self.results["machine"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": _load_average(),
        }
        self.results["config"] = {
            "scale": cfg.scale,
            "concurrency": cfg.concurrency,
            "warmup_s": cfg.warmup_s,
            "saturation_s": cfg.saturation_s,
            "fixed_rate_s": cfg.fixed_rate_s,
            "stored_cases": cfg.stored_cases,
            "environment": self.common_env["GOV_ENVIRONMENT"],
        }
        await self.create_databases()
        self.build_processes()
        try:
            await self._phases()
        finally:
            self.stop_all()
            if os.environ.get("BENCH_KEEP_DATABASES") != "1":
                await self.drop_databases()
            await self.delete_topics()
        self.results["machine"]["load_average_at_end"] = _load_average()
        self.results["runtime_s"] = round(time.perf_counter() - started, 1)
        return self.results

    async def _phases(self) -> None:
        cfg = self.config
        ready = {p.name: await self.start(p) for p in self.processes}
        await asyncio.sleep(3)
        idle = {p.name: p.rss() for p in (self.petitions, self.targets, self.notifier)}

        # 1. Event latency on an idle system.
        await self.event_latency()
        await self.wait_all_delivered(timeout_s=120)

        # 2. Intake at saturation, floor then service. The consumers (targets-api, notifier)
        # are stopped so that they do not take the 2 cores from the process being measured;
        # the case events wait in Kafka for them.
        self.targets.stop()
        self.notifier.stop()
        async with RssSampler([self.floor]) as floor_sampler:
            floor_sat = await self.saturate(self.floor.url, "floor")
        floor_sat.extra["process"] = floor_sampler.summary()["intake-floor"]
        async with RssSampler([self.petitions]) as sampler:
            empty_sat = await self.saturate(
                self.petitions.url,
                "petitions-api, empty database",
                pid=self.petitions.pid,
                profile_as="intake-empty",
            )
        load_rss = sampler.summary()
        empty_sat.extra["process"] = load_rss["petitions-api"]

        # 3. The notifier on the backlog those cases left in Kafka.
        await self.wait_outbox_drained()
        delivered = set(await self.sink_arrivals())
        backlog = await self.case_ids() - delivered
        await self.notifier_throughput(backlog)

        # 4. p99 at a fixed rate, the whole suite running (consumers caught up first).
        await self.start(self.targets)
        await self.wait_targets_caught_up(len(await self.case_ids()))
        rate = max(1.0, round(0.5 * min(floor_sat.throughput, empty_sat.throughput), 1))
        say(f"intake at a fixed rate of {rate}/s for {cfg.fixed_rate_s:.0f} s: floor, service")
        floor_fixed = await open_loop(
            self.floor.url, self.intake(), rate=rate, duration_s=cfg.fixed_rate_s
        )
        async with RssSampler([self.petitions, self.targets, self.notifier]) as suite_sampler:
            svc_fixed = await open_loop(
                self.petitions.url, self.intake(), rate=rate, duration_s=cfg.fixed_rate_s
            )
        for name, values in suite_sampler.summary().items():
            if name != "petitions-api" or not load_rss.get(name, {}).get("max_mib"):
                load_rss[name] = values
        say(f"  floor p99 {floor_fixed.summary()['p99_ms']} ms, "
            f"service p99 {svc_fixed.summary()['p99_ms']} ms")  # fmt: skip
        self.results["intake"] = {
            "floor_saturation": floor_sat.summary(),
            "service_saturation": empty_sat.summary(),
            "fixed_rate_rps": rate,
            "floor_fixed_rate": floor_fixed.summary(),
            "service_fixed_rate": svc_fixed.summary(),
        }
        await self.wait_all_delivered(timeout_s=180)

        # 5. A million cases stored, then intake again and the metrics.
        year = previous_year(date.today())
        say(f"storing {cfg.stored_cases:,} cases of {year}")
        seed_s = await seed_cases(self.dsn("petitions"), cfg.stored_cases, year=year)
        say(f"  generated in {seed_s:.0f} s (and VACUUM ANALYZE)")
        self.targets.stop()
        self.notifier.stop()
        async with RssSampler([self.petitions]) as stored_sampler:
            full_sat = await self.saturate(
                self.petitions.url,
                f"petitions-api, {cfg.stored_cases:,} stored",
                pid=self.petitions.pid,
                profile_as="intake-stored",
            )
        full_sat.extra["process"] = stored_sampler.summary()["petitions-api"]
        self.results["growth"] = {
            "stored_cases": cfg.stored_cases,
            "seed_seconds": round(seed_s, 1),
            "empty_saturation": empty_sat.summary(),
            "stored_saturation": full_sat.summary(),
        }
        say("metrics: first-time grassroots rate with the per-town breakdown")
        self.results["metrics"] = await metrics_check.measure(
            base_url=self.petitions.url,
            headers=self.credentials.headers(Role.PLANNER),
            dsn=self.dsn("petitions"),
            year=year,
            repeats=cfg.metrics_repeats,
        )
        say(f"  service {self.results['metrics']['service_ms_median']} ms, naive "
            f"{self.results['metrics']['naive_seqscan_ms_median']} ms, identical "
            f"{self.results['metrics']['identical']}")  # fmt: skip
        self.results["footprint"] = {
            name: {
                "start_to_ready_s": [round(x, 2) for x in p.ready_s],
                "idle_rss_mib": round(idle[name], 1) if idle.get(name) else None,
                "load_rss_mib": load_rss.get(name),
            }
            for name, p in (
                ("petitions-api", self.petitions),
                ("targets-api", self.targets),
                ("notifier", self.notifier),
            )
        }
        self.results["footprint"]["_first_start_s"] = {k: round(v, 2) for k, v in ready.items()}

    async def delete_topics(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka)
        try:
            await admin.start()
            topics = [t for t in await admin.list_topics() if t.startswith(self.prefix)]
            if topics:
                await admin.delete_topics(topics)
        except Exception as exc:  # tidying up must not hide the results
            say(f"warning: could not delete the run's topics: {exc!r}")
        finally:
            await admin.close()


def main() -> None:
    config = BenchConfig.from_env()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(Bench(config).run())
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["goals"] = report.goals(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = orjson.dumps(results, option=orjson.OPT_INDENT_2)
    (RESULTS_DIR / f"{stamp}.json").write_bytes(payload)
    (RESULTS_DIR / "latest.json").write_bytes(payload)
    report.print_table(results)
    say(f"results: bench/results/{stamp}.json (and latest.json); took {results['runtime_s']:.0f} s")
