"""The first-time grassroots figure (初信初访基层有效化解率, ``grassroots-v1``) pre-aggregated:
one row per closing day and town with the numerator and the denominator of that day's cases.

A figure for any period (month, quarter, year, a range of days) is then a sum over at most
366 × towns small rows instead of an index scan over every concluded case. The rows are kept
exact by the case service: every change that can move a case into or out of the figure
(close, reopen, a repeat link or unlink — whatever :func:`share_of` reads) calls
:func:`record_change` in the same transaction, which upserts +/- deltas. Cases written with
SQL outside the service (the benchmark's seed, tests that move days) are followed by
:data:`REBUILD_SQL`, the one backfill the migration also runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import (
    Column,
    Date,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.petitions import CaseKind
from petitions_api.cases.lifecycle import CaseStatus, ReviewStage
from petitions_api.cases.models import Case
from petitions_api.db import Base

grassroots_daily = Table(
    "grassroots_daily",
    Base.metadata,
    # The day the cases were closed (办结, Asia/Shanghai): the definition's period basis.
    Column("closed_on", Date, nullable=False),
    # 镇办 of the cases' place; NULL for cases whose place is not in a town (one row per day).
    Column("town_unit_id", String(32), nullable=True),
    Column("numerator", Integer, nullable=False, server_default=text("0")),
    Column("denominator", Integer, nullable=False, server_default=text("0")),
    UniqueConstraint(
        "closed_on",
        "town_unit_id",
        name="uq_grassroots_daily_day_town",
        postgresql_nulls_not_distinct=True,
    ),
)

# The whole table recomputed from ``cases``: the migration's backfill, and what follows any
# bulk write of cases with SQL (the benchmark's seed). The predicate is the definition's
# (metrics/definitions.py GRASSROOTS); the property test holds the two equal. The lock waits
# for transactions that already moved a row and keeps new deltas out until the rebuild commits,
# so none is lost or counted twice.
REBUILD_SQL: tuple[str, ...] = (
    "LOCK TABLE grassroots_daily IN EXCLUSIVE MODE",
    "DELETE FROM grassroots_daily",
    """
    INSERT INTO grassroots_daily (closed_on, town_unit_id, numerator, denominator)
    SELECT closed_on, town_unit_id,
           count(*) FILTER (WHERE effective AND grassroots), count(*)
    FROM cases
    WHERE kind = 'petition_case' AND status = 'closed' AND review_stage = 'original'
      AND first_time AND closed_on IS NOT NULL
    GROUP BY closed_on, town_unit_id
    """,
)


@dataclass(frozen=True)
class Share:
    """What one case adds to the figure: one in the denominator of its closing day and town,
    and one in the numerator when effective at the grassroots."""

    closed_on: date
    town_unit_id: str | None
    numerator: int


def share_of(case: Case) -> Share | None:
    """The case's share of the figure as it stands now; None when it is not counted (not a
    concluded first-time original petition)."""
    if (
        case.kind != CaseKind.PETITION_CASE
        or case.status != CaseStatus.CLOSED
        or case.review_stage != ReviewStage.ORIGINAL
        or case.first_time is not True
        or case.closed_on is None
    ):
        return None
    effective_at_grassroots = bool(case.effective) and bool(case.grassroots)
    return Share(case.closed_on, case.town_unit_id, 1 if effective_at_grassroots else 0)


async def record_change(session: AsyncSession, before: Share | None, after: Share | None) -> None:
    """Move the case's share from ``before`` to ``after`` (either may be None): +/- deltas
    upserted into the day-and-town rows, in the caller's transaction.

    Lock contention: the upsert row-locks each (day, town) row it touches until the
    transaction commits, so concurrent closes/reopens of cases of the same town on the same
    day queue behind one another for the rest of their transactions. Closing is paced by
    people (a handful per town per day) and the call comes last in the action, so the wait is
    short; a bulk job closing many cases in one transaction would hold every row it touched.
    Rows are touched in a fixed order (day, town) so two transactions cannot deadlock here.
    """
    if before == after:
        return
    deltas: dict[tuple[date, str | None], list[int]] = {}
    for share, sign in ((before, -1), (after, 1)):
        if share is not None:
            delta = deltas.setdefault((share.closed_on, share.town_unit_id), [0, 0])
            delta[0] += sign * share.numerator
            delta[1] += sign
    rows = [
        {"closed_on": day, "town_unit_id": town, "numerator": n, "denominator": d}
        for (day, town), (n, d) in sorted(deltas.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        if n or d
    ]
    if not rows:
        return
    statement = insert(grassroots_daily).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[grassroots_daily.c.closed_on, grassroots_daily.c.town_unit_id],
        set_={
            "numerator": grassroots_daily.c.numerator + statement.excluded.numerator,
            "denominator": grassroots_daily.c.denominator + statement.excluded.denominator,
        },
    )
    await session.execute(statement)


async def rebuild(session: AsyncSession) -> None:
    """Recompute every row from ``cases`` (:data:`REBUILD_SQL`) in the caller's transaction."""
    for sql in REBUILD_SQL:
        await session.execute(text(sql))


async def by_town(
    session: AsyncSession, start: date, end: date
) -> dict[str | None, tuple[int, int]]:
    """(numerator, denominator) per town of the cases closed from ``start`` to ``end``
    (inclusive); towns that concluded nothing are left out, as in the aggregate over cases."""
    numerator = func.sum(grassroots_daily.c.numerator)
    denominator = func.sum(grassroots_daily.c.denominator)
    statement = (
        select(grassroots_daily.c.town_unit_id, numerator, denominator)
        .where(grassroots_daily.c.closed_on.between(start, end))
        .group_by(grassroots_daily.c.town_unit_id)
        .having(denominator > 0)
    )
    return {town: (int(n), int(d)) for town, n, d in (await session.execute(statement)).all()}
