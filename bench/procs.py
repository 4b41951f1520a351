"""The services (and the floor app and the sink) as uvicorn processes: start, ready, RSS, stop.

Every process runs with the same uvicorn settings (one worker, uvloop and httptools as uvicorn
picks them, no access log), so a service and its floor differ only in the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.config import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (from /proc), seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process (VmRSS), MiB; None once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log_dir: Path
    ready_path: str = "/readyz"
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_s: list[float] = field(default_factory=list)  # start → ready, one per start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
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
            self.started_at = time.perf_counter()
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, cwd=REPO_ROOT, env={**os.environ, **self.env}, stdout=log, stderr=log
            )

    async def wait_ready(self, timeout_s: float = 180) -> float:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.popen is not None
                if self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited during start: see {self.log_path}")
                try:
                    if (await client.get(self.url + self.ready_path)).status_code == 200:
                        took = time.perf_counter() - self.started_at
                        self.ready_s.append(took)
                        return took
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout_s}s: see {self.log_path}")

    def stop(self, timeout_s: float = 30) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def rss(self) -> float | None:
        if self.popen is None or self.popen.poll() is not None:
            return None
        return rss_mib(self.popen.pid)


class RssSampler:
    """Samples the RSS of some processes every ``interval_s`` while a load runs."""

    def __init__(self, processes: list[Process], interval_s: float = 0.5) -> None:
        self._processes = processes
        self._interval = interval_s
        self.samples: dict[str, list[float]] = {p.name: [] for p in processes}
        self._task: asyncio.Task[None] | None = None
        self._cpu: dict[str, tuple[float, float]] = {}
        self.cpu_share: dict[str, float | None] = {}

    async def _run(self) -> None:
        while True:
            for process in self._processes:
                value = process.rss()
                if value is not None:
                    self.samples[process.name].append(value)
            await asyncio.sleep(self._interval)

    async def __aenter__(self) -> RssSampler:
        for p in self._processes:
            self._cpu[p.name] = (time.perf_counter(), cpu_seconds(p.pid) or 0.0)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        for p in self._processes:
            started, cpu = self._cpu[p.name]
            now = cpu_seconds(p.pid)
            wall = time.perf_counter() - started
            # Share of one core the process used while the load ran (1.0 = a whole core).
            self.cpu_share[p.name] = round((now - cpu) / wall, 2) if now is not None else None

    def summary(self) -> dict[str, dict[str, float | None]]:
        return {
            name: {
                "max_mib": round(max(values), 1) if values else None,
                "mean_mib": round(sum(values) / len(values), 1) if values else None,
                "cpu_cores": self.cpu_share.get(name),
            }
            for name, values in self.samples.items()
        }
