"""The metrics figure at scale: the service's answer over HTTP against the naive SQL aggregate.

The floor is the aggregate a person writes from the definition's words, computed from the
table's rows: one pass over ``cases`` (sequential scan, index scans switched off for that
session, parallel workers as configured), grouped by town. The same SQL with the planner free
to use the service's covering indexes is reported beside it for information.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import asyncpg
import httpx

NAIVE = """
SELECT town_unit_id,
       count(*) AS denominator,
       count(*) FILTER (WHERE effective AND grassroots) AS numerator
FROM cases
WHERE kind = 'petition_case' AND status = 'closed' AND review_stage = 'original'
  AND first_time AND closed_on BETWEEN $1 AND $2
GROUP BY town_unit_id
"""
SEQUENTIAL_ONLY = (
    "SET enable_indexscan = off",
    "SET enable_indexonlyscan = off",
    "SET enable_bitmapscan = off",
)


async def _time_sql(dsn: str, year: int, repeats: int, *, sequential: bool) -> tuple[list, list]:
    from datetime import date

    connection = await asyncpg.connect(dsn)
    try:
        if sequential:
            for statement in SEQUENTIAL_ONLY:
                await connection.execute(statement)
        args = (date(year, 1, 1), date(year, 12, 31))
        rows = await connection.fetch(NAIVE, *args)  # warm-up: the same pages in cache
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            rows = await connection.fetch(NAIVE, *args)
            timings.append((time.perf_counter() - started) * 1000)
        plan = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + NAIVE, *args)
    finally:
        await connection.close()
    return [dict(r) for r in rows], [*timings, [p[0] for p in plan]]


async def measure(
    *, base_url: str, headers: dict[str, str], dsn: str, year: int, repeats: int
) -> dict[str, Any]:
    path = f"/v1/metrics/first-time-grassroots-resolution?period={year}"
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        for i in range(repeats + 2):
            started = time.perf_counter()
            response = await http.get(path, headers=headers)
            took = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= 2:  # two warm-ups
                timings.append(took)
        figure = response.json()
    naive_rows, naive = await _time_sql(dsn, year, max(3, repeats // 3), sequential=True)
    naive_plan = naive.pop()
    indexed_rows, indexed = await _time_sql(dsn, year, max(3, repeats // 3), sequential=False)
    indexed_plan = indexed.pop()

    service_towns = {
        t["town_unit_id"]: (t["numerator"], t["denominator"])
        for t in figure.get("breakdown") or []
        if t["denominator"]
    }
    naive_towns = {r["town_unit_id"]: (r["numerator"], r["denominator"]) for r in naive_rows}
    naive_total = (
        sum(n for n, _ in naive_towns.values()),
        sum(d for _, d in naive_towns.values()),
    )
    identical = (
        service_towns == naive_towns
        and (figure["numerator"], figure["denominator"]) == naive_total
        and naive_towns == {r["town_unit_id"]: (r["numerator"], r["denominator"])
                            for r in indexed_rows}
    )  # fmt: skip
    service_ms = statistics.median(timings)
    naive_ms = statistics.median(naive)
    return {
        "period": str(year),
        "service_ms_median": round(service_ms, 2),
        "service_ms_all": [round(t, 2) for t in timings],
        "naive_seqscan_ms_median": round(naive_ms, 2),
        "naive_seqscan_ms_all": [round(t, 2) for t in naive],
        "same_sql_planner_choice_ms_median": round(statistics.median(indexed), 2),
        "speedup": round(naive_ms / service_ms, 2),
        "identical": identical,
        "service": {
            "numerator": figure["numerator"],
            "denominator": figure["denominator"],
            "rate": figure.get("rate"),
            "towns": {str(k): v for k, v in service_towns.items()},
        },
        "naive": {"numerator": naive_total[0], "denominator": naive_total[1],
                  "towns": {str(k): v for k, v in naive_towns.items()}},
        "naive_plan": naive_plan,
        "planner_choice_plan": indexed_plan,
    }  # fmt: skip
