"""Steady intake: POST /v1/cases at a fixed rate until told to stop, keeping every answer;
a readiness watcher that records each service's /readyz answers over time; and a balancer
that spreads requests over the replicas whose /readyz answers 200."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from .harness import CASE, Service


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer (connection refused, timeout)
    case_id: str | None
    error: str | None = None


@dataclass
class SteadyIntake:
    """Registers cases at ``rate`` per second, each request in its own task."""

    http: httpx.AsyncClient
    petitions: Service | Balancer
    headers: dict[str, str]
    rate: float
    answers: list[Answer] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def _one(self, n: int) -> None:
        body = {**CASE, "subject": f"{CASE['subject']} #{n}"}
        # An Idempotency-Key, as a careful client sends, so a retried POST makes no second case.
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        try:
            # Read per request: behind a balancer, each request goes to the next replica.
            response = await self.http.post(
                self.petitions.url + "/v1/cases", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            self.answers.append(Answer(None, None, repr(exc)))
            return
        if response.status_code == 201:
            self.answers.append(Answer(201, response.json()["id"]))
        else:
            self.answers.append(Answer(response.status_code, None, response.text[:500]))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1 / self.rate
        due = loop.time()
        requests: list[asyncio.Task[None]] = []
        n = 0
        while not self._stop.is_set():
            n += 1
            requests.append(asyncio.create_task(self._one(n)))
            due += interval
            await asyncio.sleep(max(0.0, due - loop.time()))
        await asyncio.gather(*requests)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    @property
    def acknowledged(self) -> list[str]:
        return [a.case_id for a in self.answers if a.status == 201 and a.case_id]

    def errors(self, limit: int = 5) -> list[str]:
        return [f"{a.status}: {a.error}" for a in self.answers if a.status != 201][:limit]

    def statuses(self) -> dict[str, int]:
        return dict(Counter(str(a.status) if a.status else "no answer" for a in self.answers))


@dataclass
class ReadinessWatch:
    """Polls /readyz of each service every ``every_s`` and keeps the sequence of answers."""

    http: httpx.AsyncClient
    services: dict[str, Service]
    every_s: float = 0.25
    seen: dict[str, list[int]] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def _probe(self, name: str, service: Service) -> None:
        try:
            status = (await self.http.get(service.url + "/readyz", timeout=3)).status_code
        except httpx.HTTPError:
            status = 0
        history = self.seen.setdefault(name, [])
        if not history or history[-1] != status:
            history.append(status)  # only the changes: 200 → 503 → 200

    async def _run(self) -> None:
        while not self._stop.is_set():
            await asyncio.gather(*(self._probe(n, s) for n, s in self.services.items()))
            await asyncio.sleep(self.every_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> dict[str, list[int]]:
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.seen


async def wait_for(
    check: Any, *, timeout_s: float, every_s: float = 0.5, what: str = "condition"
) -> None:
    """Await ``check()`` until it is true, at most ``timeout_s``."""
    try:
        async with asyncio.timeout(timeout_s):
            while not await check():
                await asyncio.sleep(every_s)
    except TimeoutError:
        raise AssertionError(f"{what} not reached within {timeout_s}s") from None


@dataclass
class Balancer:
    """Stands in for a load balancer that health-checks its backends (a Kubernetes Service
    with readiness probes, HAProxy's ``httpchk … fall 3 rise 1``): round robin over the
    replicas in rotation. A replica enters rotation on one 200 from /readyz and leaves it after
    ``fall`` checks in a row without one, checked every ``every_s``. It does not retry a failed
    request elsewhere, so a replica that refuses or cuts a request fails it for the client."""

    http: httpx.AsyncClient
    every_s: float = 0.25
    fall: int = 3
    probe_timeout_s: float = 5.0
    backends: list[Service] = field(default_factory=list)
    ready: list[Service] = field(default_factory=list)
    # Each backend's readiness answers, changes only: e.g. [0, 200, 503, 0] for a replica
    # that started, drained and stopped (0: no answer).
    seen: dict[str, list[int]] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)
    _turn: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    def add(self, backend: Service) -> None:
        """Put a replica behind the balancer; it gets traffic once its /readyz answers 200."""
        self.backends.append(backend)

    @property
    def url(self) -> str:
        """Where the next request goes: the next ready replica."""
        if not self.ready:  # what a balancer answers with 503: the request fails
            raise httpx.ConnectError("no ready backend behind the balancer")
        self._turn += 1
        return self.ready[self._turn % len(self.ready)].url

    async def _probe(self, backend: Service) -> int:
        try:
            response = await self.http.get(backend.url + "/readyz", timeout=self.probe_timeout_s)
            status = response.status_code
        except httpx.HTTPError:
            status = 0
        history = self.seen.setdefault(backend.name, [])
        if not history or history[-1] != status:
            history.append(status)
        return status

    async def _run(self) -> None:
        while not self._stop.is_set():
            backends = list(self.backends)
            statuses = await asyncio.gather(*(self._probe(b) for b in backends))
            for backend, status in zip(backends, statuses, strict=True):
                failures = 0 if status == 200 else self._failures.get(backend.name, 0) + 1
                self._failures[backend.name] = failures
            self.ready = [
                b
                for b in backends
                if self._failures[b.name] == 0
                or (b in self.ready and self._failures[b.name] < self.fall)
            ]
            await asyncio.sleep(self.every_s)

    async def start(self) -> None:
        """Start checking, and wait until some replica is ready."""
        self._task = asyncio.create_task(self._run())
        await wait_for(self._has_ready, timeout_s=60, every_s=0.05, what="a ready backend")

    async def _has_ready(self) -> bool:
        return bool(self.ready)

    async def stop(self) -> dict[str, list[int]]:
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.seen
