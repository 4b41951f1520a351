"""What the run measures, and how much of it: every load is sized by ``BENCH_SCALE``.

``BENCH_SCALE=1`` (default) is the full run with a million stored cases; ``0.1`` is a quick run
(100,000 cases, shorter loads) for checking the harness itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass(frozen=True)
class BenchConfig:
    scale: float
    # Closed-loop clients for the saturation runs: enough to keep a single uvicorn process
    # and its 10 (+10 overflow) database connections busy.
    concurrency: int
    warmup_s: float
    saturation_s: float
    fixed_rate_s: float
    stored_cases: int
    latency_samples: int
    latency_rate: float  # cases per second while measuring event latency (an idle system)
    metrics_repeats: int
    # The notifier sends a claimed batch concurrently (NOTIFIER_DISPATCH_BATCH, 50): the
    # floor's raw POSTs use the same concurrency.
    delivery_concurrency: int
    log_dir: Path

    @classmethod
    def from_env(cls) -> BenchConfig:
        scale = _float("BENCH_SCALE", 1.0)
        if scale <= 0:
            raise SystemExit("BENCH_SCALE must be > 0 (1 = full run, 0.1 = quick run)")
        local = Path(os.environ.get("GOV_LOCAL_DIR", REPO_ROOT / ".local"))
        return cls(
            scale=scale,
            concurrency=int(_float("BENCH_CONCURRENCY", 32)),
            warmup_s=max(2.0, 5 * scale),
            saturation_s=max(5.0, 30 * scale),
            fixed_rate_s=max(5.0, 20 * scale),
            stored_cases=int(1_000_000 * scale),
            latency_samples=max(30, int(300 * scale)),
            latency_rate=10.0,
            metrics_repeats=max(5, int(15 * scale)),
            delivery_concurrency=int(_float("BENCH_DELIVERY_CONCURRENCY", 50)),
            log_dir=local / "logs" / "bench",
        )
