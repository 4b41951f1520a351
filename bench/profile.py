"""Optional sampling profiles (``BENCH_PROFILE=1``): py-spy attached to a running service.

py-spy samples the process from outside (no code change, no restart), so the profiled run is
the same run as the measured one, only a little slower. Each profile is written as collapsed
stacks (``bench/results/profiles/<name>.txt``, loadable in speedscope.app) plus a summary of
the frames that hold the most samples (``<name>.top.txt``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.config import RESULTS_DIR

PROFILES = RESULTS_DIR / "profiles"


def enabled() -> bool:
    return os.environ.get("BENCH_PROFILE") == "1"


def _py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        print("BENCH_PROFILE=1 but py-spy is not installed (uv sync --all-packages)")
        return None
    PROFILES.mkdir(parents=True, exist_ok=True)
    return found


async def record(pid: int, name: str, duration_s: float) -> asyncio.subprocess.Process | None:
    """Start py-spy on ``pid`` for ``duration_s``; await ``.wait()`` on the result."""
    py_spy = _py_spy()
    if py_spy is None:
        return None
    return await asyncio.create_subprocess_exec(
        py_spy, "record", "--pid", str(pid), "--duration", str(int(duration_s)),
        "--rate", "200", "--format", "raw", "--nonblocking", "--gil",
        "--output", str(PROFILES / f"{name}.txt"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


def summarise(name: str, top: int = 25) -> str:
    """Where the CPU went (``--gil``: only the thread holding the GIL is sampled): the share
    of samples per frame, inclusive (the frame is on the stack) and self (it is the leaf)."""
    path = PROFILES / f"{name}.txt"
    if not path.exists():
        return ""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return ""
    lines = [f"{name}: {total} samples holding the GIL; inclusive share, application frames"]
    mine = ("petitions_api", "gov_common", "notifier/", "targets_api", "jwt/", "rapidfuzz")
    for frame, samples in inclusive.most_common():
        if any(m in frame for m in mine):
            lines.append(f"{100 * samples / total:5.1f}%  {frame}")
        if len(lines) > top:
            break
    lines.append("self share (leaf frames)")
    for frame, samples in own.most_common(top):
        lines.append(f"{100 * samples / total:5.1f}%  {frame}")
    text = "\n".join(lines) + "\n"
    (PROFILES / f"{name}.top.txt").write_text(text)
    return text
