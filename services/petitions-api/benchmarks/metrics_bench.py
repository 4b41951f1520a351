"""Benchmark of the metrics API's queries at a million cases (timings belong here, not in tests).

Fills the database named by PETITIONS_DATABASE_URL (migrated, reference data loaded) with
synthetic cases by plain SQL, then times every figure, its per-town breakdown and the first
page of its cases, and prints the plan of the grassroots figure. Use a scratch database:

    psql -h 127.0.0.1 -p 25432 -U gov -d postgres -c 'create database petitions_bench'
    export PETITIONS_DATABASE_URL=postgresql+asyncpg://gov@127.0.0.1:25432/petitions_bench
    uv run alembic -c services/petitions-api/alembic.ini upgrade head
    uv run python -m petitions_api.reference load
    uv run python services/petitions-api/benchmarks/metrics_bench.py --cases 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlalchemy import select, text

from gov_common.db import create_engine, create_session_factory
from petitions_api.config import Settings
from petitions_api.metrics import rollup, service
from petitions_api.metrics.definitions import DEFINITIONS
from petitions_api.metrics.periods import parse_period

# Synthetic cases over 2024–2025: the towns' villages as places, a spread of states, levels,
# ratings and repeats. Only the columns the figures read vary; the rest are constant.
FILL = """
WITH places AS (
    SELECT array_agg(code ORDER BY code) AS codes FROM org_units WHERE level = 'village'
), towns AS (
    SELECT array_agg(parent_code ORDER BY code) AS codes FROM org_units WHERE level = 'village'
)
INSERT INTO cases (
    id, case_number, kind, channel, subject, description, received_on, status, version,
    place_unit_id, town_unit_id, handling_unit_id, urgent, group_size, attachments,
    first_time, repeat_confirmed, review_stage, review_requested, final, extended,
    responded_at, on_time, rating, resolution_level, grassroots, effective, closed_on,
    resolved_on, created_at, updated_at
)
SELECT
    gen_random_uuid(),
    'BENCH-' || (:offset + n),
    CASE WHEN n % 3 = 0 THEN 'petition_case' ELSE 'hotline_ticket' END,
    'hotline_call', 'bench', 'bench',
    day, status, 1,
    places.codes[1 + n % cardinality(places.codes)],
    towns.codes[1 + n % cardinality(towns.codes)],
    CASE WHEN n % 7 = 0 THEN 'D-ZJJ' ELSE towns.codes[1 + n % cardinality(towns.codes)] END,
    false, 1, '[]'::jsonb,
    n % 10 <> 0, false,
    CASE WHEN n % 50 = 0 THEN 'review' ELSE 'original' END, false, false, false,
    CASE WHEN status <> 'registered' THEN day::timestamptz END,
    CASE WHEN status = 'closed' THEN n % 9 <> 0 END,
    CASE WHEN status = 'closed' THEN (ARRAY['satisfied','basically_satisfied','dissatisfied'])
        [1 + n % 3] END,
    CASE WHEN status = 'closed' THEN CASE WHEN n % 7 = 0 THEN 'department' ELSE 'town' END END,
    CASE WHEN status = 'closed' THEN n % 7 <> 0 END,
    CASE WHEN status = 'closed' THEN n % 3 <> 2 END,
    CASE WHEN status IN ('closed', 'declined') THEN day + (n % 40) END,
    CASE WHEN status = 'closed' THEN day + (n % 40) END,
    day::timestamptz, day::timestamptz
FROM generate_series(1, :count) AS n
CROSS JOIN places CROSS JOIN towns
CROSS JOIN LATERAL (SELECT date '2024-01-01' + (n % 730) AS day) AS d
CROSS JOIN LATERAL (
    SELECT (ARRAY['closed','closed','closed','closed','closed','closed','in_progress',
                  'registered','declined','replied'])[1 + n % 10] AS status
) AS s
"""


async def main(count: int) -> None:
    settings = Settings()
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        have = await session.scalar(text("SELECT count(*) FROM cases"))
        assert have is not None
        if have < count:
            print(f"filling {count - have} cases …")
            started = time.perf_counter()
            batch = 200_000
            for offset in range(have, count, batch):
                size = min(batch, count - offset)
                await session.execute(text(FILL), {"offset": offset, "count": size})
                await session.commit()
            # Written behind the case service: recount the grassroots rollup from the cases.
            await rollup.rebuild(session)
            await session.commit()
            print(f"  filled in {time.perf_counter() - started:.1f} s")
        total = await session.scalar(text("SELECT count(*) FROM cases"))
        print(f"{total} cases\n")
    # VACUUM sets the visibility map, which lets the covering indexes answer index-only.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE cases"))
        await autocommit.execute(text("VACUUM ANALYZE grassroots_daily"))

    for label in ("2025", "2025-Q3", "2025-08"):
        period = parse_period(label)
        for definition in DEFINITIONS.values():
            for unit in (None, "610203100"):
                query = service.Query(
                    definition=definition, period=period, kind=definition.default_kind, unit=unit
                )
                async with sessions() as session:
                    started = time.perf_counter()
                    result = await service.compute(session, query, settings=settings)
                    figure_ms = (time.perf_counter() - started) * 1000
                    started = time.perf_counter()
                    await service.cases(session, query, settings=settings, limit=100)
                    page_ms = (time.perf_counter() - started) * 1000
                print(
                    f"{label:8} {definition.id:34} unit={unit or 'all':10} "
                    f"{result.counts.numerator!s:>9}/{result.counts.denominator:<8} "
                    f"figure {figure_ms:7.1f} ms   first page {page_ms:7.1f} ms"
                )

    # The plan of the grassroots figure when counted from the cases (a unit filter or a
    # caller's scope; district-wide it is read from grassroots_daily): an index-only scan
    # of ix_cases_metrics_closed.
    definition = DEFINITIONS["first-time-grassroots-resolution"]
    query = service.Query(
        definition=definition, period=parse_period("2025"), kind=definition.default_kind
    )
    async with sessions() as session:
        conditions = await service._conditions(session, query, settings)
        columns, _ = service._aggregates(query, settings)
        statement = select(*columns).where(*conditions)
        compiled = statement.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
        plan = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))
        print("\n" + "\n".join(row[0] for row in plan.all()))
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().cases))
