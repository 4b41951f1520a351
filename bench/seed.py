"""A district's year of cases, generated inside PostgreSQL (generate_series), with a progress bar.

One ``INSERT … SELECT … FROM generate_series`` per chunk of 20,000 cases writes the cases and,
in the same statement, their petitioners; two connections work in parallel. The spread: 30% 信访
petition cases and 70% 12345 tickets, received over one calendar year, across every town and
village of the seed, every category and channel; most are closed (some after the year ended),
some declined, the rest open at every step of the lifecycle; ratings, resolution levels,
repeats and 复查/复核 cases in realistic shares. ``effective`` and ``grassroots`` follow from the
rating and the level exactly as the service derives them, so any aggregate recomputes them.
The grassroots rollup (``grassroots_daily``) is then recounted from the cases with the
migration's backfill. Petitioners carry blind-index-like phone hashes (a pool of 300,000
numbers, so numbers repeat); their ciphertext columns hold placeholders that nothing in the
benchmark decrypts.
"""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from petitions_api.metrics.rollup import REBUILD_SQL

CHUNK = 20_000

FILL = """
WITH ins AS (
INSERT INTO cases (
    id, case_number, kind, channel, subject, description, received_on, status, version,
    category_code, place_unit_id, place_address, town_unit_id, handling_unit_id, urgent,
    group_size, attachments, first_time, repeat_confirmed, review_stage, review_requested,
    final, accepted_on, responded_at, extended, reply_outcome, replied_on, on_time, rating,
    resolution_unit_id, resolution_level, grassroots, effective, resolved_on, closed_on,
    created_at, updated_at
)
SELECT
    gen_random_uuid(),
    (CASE WHEN r.petition THEN 'XF' ELSE 'RX' END) || $3::int || '-S' || lpad(n::text, 8, '0'),
    CASE WHEN r.petition THEN 'petition_case' ELSE 'hotline_ticket' END,
    CASE WHEN r.petition
         THEN (ARRAY['letter', 'visit', 'web', 'transfer_from_above'])[1 + (r.u1 * 4)::int % 4]
         ELSE (ARRAY['hotline_call','hotline_call','hotline_call','web'])[1 + (r.u1 * 4)::int % 4]
    END,
    $4::text[] ARRAY_SUBSCRIPT,
    $5::text[] ARRAY_SUBSCRIPT,
    r.day, r.status, 1,
    ($6::text[])[1 + (r.u2 * cardinality($6::text[]))::int % cardinality($6::text[])],
    ($1::text[])[r.place], '示例路' || (1 + n % 300) || '号', ($2::text[])[r.place],
    CASE WHEN r.level IN ('town', 'village') OR r.level IS NULL THEN ($2::text[])[r.place]
         ELSE 'D-XFJ' END,
    r.u3 < 0.05, 1, '[]'::jsonb,
    r.u4 >= 0.12, false,
    CASE WHEN r.u5 < 0.04 THEN 'review' WHEN r.u5 < 0.05 THEN 're_review' ELSE 'original' END,
    false, false,
    CASE WHEN r.status NOT IN ('registered', 'declined') THEN r.day + 1 END,
    CASE WHEN r.status NOT IN ('registered', 'declined', 'accepted', 'dispatched')
         THEN (r.day + 2)::timestamptz END,
    r.u6 < 0.03,
    CASE WHEN r.status IN ('replied', 'rated', 'closed') THEN 'supported' END,
    CASE WHEN r.status IN ('replied', 'rated', 'closed') THEN r.closed - 1 END,
    CASE WHEN r.status = 'closed' THEN r.u6 < 0.92 END,
    r.rating,
    CASE WHEN r.level IN ('town', 'village') THEN ($2::text[])[r.place]
         WHEN r.level IS NOT NULL THEN 'D-XFJ' END,
    r.level,
    CASE WHEN r.level IS NOT NULL THEN r.level IN ('town', 'village') END,
    CASE WHEN r.status = 'closed'
         THEN coalesce(r.rating IN ('satisfied', 'basically_satisfied'), false) END,
    CASE WHEN r.status = 'closed' THEN r.closed END,
    CASE WHEN r.status IN ('closed', 'declined') THEN r.closed END,
    r.day::timestamptz, r.day::timestamptz
FROM generate_series($7::int, $8::int) AS n
CROSS JOIN LATERAL (
    SELECT u.*,
        1 + (u.u7 * cardinality($1::text[]))::int % cardinality($1::text[]) AS place,
        make_date($3::int, 1, 1) + (u.u1 * 365)::int % 365 AS day,
        make_date($3::int, 1, 1) + (u.u1 * 365)::int % 365 + 1 + (u.u2 * 60)::int AS closed,
        CASE WHEN u.s < 0.04 THEN 'declined' WHEN u.s < 0.80 THEN 'closed'
             WHEN u.s < 0.83 THEN 'registered' WHEN u.s < 0.86 THEN 'accepted'
             WHEN u.s < 0.89 THEN 'dispatched' WHEN u.s < 0.94 THEN 'in_progress'
             WHEN u.s < 0.97 THEN 'replied' ELSE 'rated' END AS status,
        CASE WHEN u.s >= 0.04 AND u.s < 0.80 THEN
            CASE WHEN u.u8 < 0.05 THEN NULL WHEN u.u8 < 0.13 THEN 'dissatisfied'
                 WHEN u.u8 < 0.30 THEN 'basically_satisfied' ELSE 'satisfied' END END AS rating,
        CASE WHEN u.s >= 0.04 AND u.s < 0.80 THEN
            CASE WHEN u.u9 < 0.05 THEN 'district' WHEN u.u9 < 0.25 THEN 'department'
                 WHEN u.u9 < 0.80 THEN 'town' ELSE 'village' END END AS level
    FROM (SELECT random() < 0.3 AS petition, random() AS s, random() AS u1, random() AS u2,
                 random() AS u3, random() AS u4, random() AS u5, random() AS u6,
                 random() AS u7, random() AS u8, random() AS u9, n AS _n) AS u
) AS r
RETURNING id, kind, case_number
)
INSERT INTO petitioners (case_id, name_ciphertext, phone_ciphertext, phone_index)
SELECT id, 'bench-placeholder', 'bench-placeholder',
       encode(sha256(
           ('bench-phone-' || (hashtext(case_number) & 2147483647) % 300000)::bytea
       ), 'hex')
FROM ins
WHERE kind = 'petition_case' OR (hashtext(case_number) & 2147483647) % 10 < 7
"""

SUBJECTS = [
    "路灯不亮",
    "供暖不热",
    "拖欠工资",
    "停水",
    "道路坑洼",
    "物业服务",
    "低保进度",
    "噪音扰民",
]
TEXTS = [
    "主干道路灯已连续三晚未亮，夜间出行不便。",
    "家中暖气温度不足，请协调供热公司处理。",
    "在工地务工半年，工资至今未结清。",
    "村里自来水停水两天，没有提前通知。",
    "村口道路多处坑洼，下雨积水严重。",
    "小区物业不作为，垃圾无人清运。",
]


def _subscripted(array_param: str, size: int, u: str) -> str:
    return f"({array_param})[1 + ({u} * {size})::int % {size}]"


async def seed_cases(dsn: str, target: int, *, year: int, workers: int = 2) -> float:
    """Add cases until the table holds ``target``; returns the seconds it took."""
    connection = await asyncpg.connect(dsn)
    try:
        have = await connection.fetchval("SELECT count(*) FROM cases")
        places = await connection.fetch(
            "SELECT u.code, coalesce(CASE WHEN u.level = 'town' THEN u.code END, p.code) AS town"
            " FROM org_units u LEFT JOIN org_units p ON p.code = u.parent_code"
            " WHERE u.level IN ('town', 'village') AND u.active ORDER BY u.code"
        )
        categories = [
            r["code"] for r in await connection.fetch("SELECT code FROM categories ORDER BY code")
        ]
    finally:
        await connection.close()
    missing = target - have
    if missing <= 0:
        return 0.0
    sql = FILL.replace(
        "$4::text[] ARRAY_SUBSCRIPT", _subscripted("$4::text[]", len(SUBJECTS), "r.u3")
    ).replace("$5::text[] ARRAY_SUBSCRIPT", _subscripted("$5::text[]", len(TEXTS), "r.u4"))
    args = ([p["code"] for p in places], [p["town"] for p in places], year)
    chunks = [(n, min(n + CHUNK - 1, target)) for n in range(have + 1, target + 1, CHUNK)]
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)
    loop = asyncio.get_running_loop()
    started = loop.time()
    columns = (
        TextColumn("[bold]generating cases"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("cases", total=missing)

        async def work() -> None:
            worker = await asyncpg.connect(dsn)
            try:
                await worker.execute("SET synchronous_commit = off")
                while not queue.empty():
                    first, last = queue.get_nowait()
                    await worker.execute(
                        sql, args[0], args[1], args[2], SUBJECTS, TEXTS, categories,
                        first, last,
                    )  # fmt: skip
                    progress.advance(task, last - first + 1)
            finally:
                await worker.close()

        await asyncio.gather(*(work() for _ in range(workers)))
    connection = await asyncpg.connect(dsn)
    try:
        # The cases were written behind the case service: recount the grassroots rollup from
        # them with the migration's own backfill (one SQL, petitions_api.metrics.rollup).
        async with connection.transaction():
            for statement in REBUILD_SQL:
                await connection.execute(statement)
    finally:
        await connection.close()
    took = loop.time() - started
    # What autovacuum would do on its own after a bulk load: statistics and the visibility map
    # (the metrics' covering indexes answer index-only only where pages are all-visible).
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM ANALYZE cases")
        await connection.execute("VACUUM ANALYZE petitioners")
        await connection.execute("VACUUM ANALYZE grassroots_daily")
    finally:
        await connection.close()
    return took


def previous_year(today: date) -> int:
    return today.year - 1
