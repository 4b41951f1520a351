"""A small asyncio load generator on httpx (see README, "The load generator").

Two shapes: a closed loop (N clients, each sends its next request when the last one answered)
for throughput at saturation, and an open loop (requests start on a fixed schedule whatever
the answers do) for latency at a fixed rate. Open-loop latency is measured from the moment a
request was *due*, so a stalled server cannot hide its queue (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# One request: method, path, headers, body (bytes); built before the clock starts.
RequestFactory = Callable[[int], tuple[str, str, dict[str, str], bytes]]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0–100), nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class LoadResult:
    requests: int = 0
    ok: int = 0
    duration_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int | str] = field(default_factory=Counter)
    responses: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "duration_s": round(self.duration_s, 2),
            "throughput_rps": round(self.throughput, 1),
            "p50_ms": _round(percentile(self.latencies_ms, 50)),
            "p99_ms": _round(percentile(self.latencies_ms, 99)),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            **self.extra,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def client(base_url: str, concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60)


async def closed_loop(
    base_url: str,
    make: RequestFactory,
    *,
    concurrency: int,
    warmup_s: float,
    duration_s: float,
    expect: int = 201,
) -> LoadResult:
    """``concurrency`` clients back to back; counts what completes inside the measured window."""
    result = LoadResult()
    counter = iter(range(10**12))
    async with client(base_url, concurrency) as http:
        start = time.perf_counter()
        measure_from = start + warmup_s
        stop_at = measure_from + duration_s

        async def worker() -> None:
            while (now := time.perf_counter()) < stop_at:
                method, path, headers, body = make(next(counter))
                try:
                    response = await http.request(method, path, headers=headers, content=body)
                    status: int | str = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                done = time.perf_counter()
                if now >= measure_from and done <= stop_at:
                    result.requests += 1
                    result.statuses[status] += 1
                    result.latencies_ms.append((done - now) * 1000)
                    if status == expect:
                        result.ok += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.duration_s = duration_s
    return result


async def open_loop(
    base_url: str,
    make: RequestFactory,
    *,
    rate: float,
    duration_s: float,
    expect: int = 201,
    keep: Callable[[httpx.Response, float], Any] | None = None,
    max_in_flight: int = 512,
) -> LoadResult:
    """Requests due every 1/rate s; latency from when each was due to its answer."""
    result = LoadResult()
    total = max(1, int(rate * duration_s))
    prepared = [make(i) for i in range(total)]
    gate = asyncio.Semaphore(max_in_flight)
    async with client(base_url, max_in_flight) as http:
        start = time.perf_counter()

        async def one(i: int) -> None:
            due = start + i / rate
            method, path, headers, body = prepared[i]
            async with gate:
                try:
                    response = await http.request(method, path, headers=headers, content=body)
                    status: int | str = response.status_code
                except httpx.HTTPError as exc:
                    response, status = None, type(exc).__name__
            done = time.perf_counter()
            result.requests += 1
            result.statuses[status] += 1
            result.latencies_ms.append((done - due) * 1000)
            if status == expect:
                result.ok += 1
                if keep is not None and response is not None:
                    result.responses.append(keep(response, time.time()))

        tasks = []
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        result.duration_s = time.perf_counter() - start
    return result
