"""The goals of issue 8 judged on a run's figures, and the one table printed at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return round(a / b, 3)


def goals(r: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per figure: measured, floor, ratio, goal and whether it is met."""
    intake, latency, metrics = r["intake"], r["event_latency"], r["metrics"]
    growth, notifier = r["growth"], r["notifier"]
    rows: list[dict[str, Any]] = []

    def row(figure: str, measured: Any, floor: Any, ratio: float | None, goal: str,
            met: bool | None, unit: str) -> None:  # fmt: skip
        rows.append({"figure": figure, "measured": measured, "floor": floor, "ratio": ratio,
                     "goal": goal, "met": met, "unit": unit})  # fmt: skip

    svc, flo = intake["service_saturation"], intake["floor_saturation"]
    ratio = _ratio(svc["throughput_rps"], flo["throughput_rps"])
    row("intake throughput (saturation)", svc["throughput_rps"], flo["throughput_rps"], ratio,
        "≥ 0.6 × floor", ratio is not None and ratio >= 0.6, "req/s")  # fmt: skip
    svc, flo = intake["service_fixed_rate"], intake["floor_fixed_rate"]
    row(f"intake p99 at {intake['fixed_rate_rps']} req/s", svc["p99_ms"], flo["p99_ms"],
        _ratio(svc["p99_ms"], flo["p99_ms"]), "reported", None, "ms")  # fmt: skip
    p50 = (latency["service_p50_ms"], latency["floor_p50_ms"])
    row("event latency p50 (201 → webhook)", *p50, _ratio(*p50), "reported", None, "ms")
    ratio = _ratio(latency["service_p99_ms"], latency["floor_p99_ms"])
    row("event latency p99 (201 → webhook)", latency["service_p99_ms"], latency["floor_p99_ms"],
        ratio, "≤ 4 × floor", ratio is not None and ratio <= 4 and latency["missing"] == 0,
        "ms")  # fmt: skip
    row(f"metrics: grassroots rate + towns, {growth['stored_cases']:,} cases",
        metrics["service_ms_median"], metrics["naive_seqscan_ms_median"],
        _ratio(metrics["naive_seqscan_ms_median"], metrics["service_ms_median"]),
        "≥ 20 × faster, identical", metrics["speedup"] >= 20 and metrics["identical"],
        "ms (ratio = speed-up)")  # fmt: skip
    ratio = _ratio(growth["stored_saturation"]["throughput_rps"],
                   growth["empty_saturation"]["throughput_rps"])  # fmt: skip
    row(f"growth: intake with {growth['stored_cases']:,} stored",
        growth["stored_saturation"]["throughput_rps"], growth["empty_saturation"]["throughput_rps"],
        ratio, "≥ 0.9 × empty", ratio is not None and ratio >= 0.9, "req/s")  # fmt: skip
    ratio = _ratio(notifier["deliveries_per_s"], notifier["floor"]["per_s"])
    row("notifier webhook deliveries", notifier["deliveries_per_s"], notifier["floor"]["per_s"],
        ratio, "≥ 0.5 × floor", ratio is not None and ratio >= 0.5, "per s")  # fmt: skip
    for name, f in r["footprint"].items():
        if name.startswith("_"):
            continue
        load = (f.get("load_rss_mib") or {}).get("max_mib")
        starts = ", ".join(f"{s:.1f}" for s in f["start_to_ready_s"])
        row(f"footprint {name}: RSS idle / under load (MiB); start→ready (s): {starts}",
            f["idle_rss_mib"], load, None, "reported", None, "MiB")  # fmt: skip
    return rows


def print_table(r: dict[str, Any]) -> None:
    table = Table(title=f"make bench — scale {r['config']['scale']}, {r['runtime_s']:.0f} s, "
                  f"load average {r['machine']['load_average_at_start']} → "
                  f"{r['machine']['load_average_at_end']}")  # fmt: skip
    for column in ("figure", "measured", "floor", "ratio", "goal", "met"):
        table.add_column(column, overflow="fold")
    for g in r["goals"]:
        met = {True: "[green]yes", False: "[red]NO", None: "–"}[g["met"]]
        table.add_row(g["figure"], f"{g['measured']} {g['unit']}", str(g["floor"]),
                      "" if g["ratio"] is None else str(g["ratio"]), g["goal"], met)  # fmt: skip
    Console(width=160).print(table)
    m = r["metrics"]
    Console(width=160).print(
        f"metrics identical: {m['identical']} (service {m['service']['numerator']}/"
        f"{m['service']['denominator']}, naive {m['naive']['numerator']}/"
        f"{m['naive']['denominator']}); same SQL with the planner free to use the covering "
        f"index: {m['same_sql_planner_choice_ms_median']} ms"
    )
