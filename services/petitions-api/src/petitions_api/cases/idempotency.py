"""Idempotency-Key of ``POST /v1/cases``: the claim, drawn with the case number and the repeat
candidates.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import (
    Select,
    Table,
    bindparam,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.problems import ProblemError
from petitions_api.cases import repeats
from petitions_api.cases.models import (
    Case,
    IdempotencyKey,
    case_number_seq,
)
from petitions_api.cases.repeat_candidates import RepeatLookup, candidates_query
from petitions_api.cases.schemas import (
    CaseCreate,
)


def idempotency_scope(subject: str) -> str:
    """Idempotency keys are per caller; a long subject is hashed to fit the column."""
    scope = f"cases:{subject}"
    if len(scope) <= 100:
        return scope
    return "cases:sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def request_hash(data: CaseCreate) -> str:
    canonical = orjson.dumps(data.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class IdempotencyKeyReused(ProblemError):  # noqa: N818
    def __init__(self, key: str) -> None:
        super().__init__(
            422,
            f"Idempotency-Key {key!r} was already used with a different request body; "
            "use a new key for a new case, or resend the original body",
            problem_type="idempotency-key-reused",
        )


# Built once (SQLAlchemy then reuses its compiled form without re-deriving a cache key);
# Core, not ORM: nothing here needs the identity map.
_CLAIM = (
    insert(cast(Table, IdempotencyKey.__table__))
    .values(scope=bindparam("scope"), key=bindparam("key"), request_hash=bindparam("request_hash"))
    .on_conflict_do_nothing(index_elements=["scope", "key"])
    .returning(case_number_seq.next_value().label("case_sequence"))
)


@functools.cache
def _claim_and_candidates(by_phone: bool, by_id_number: bool) -> Select[Any]:
    """:data:`_CLAIM` and the petitioner's earlier cases (:func:`candidates_query`) in one
    round trip: a row per candidate (one with NULLs when there is none), newest first; no
    row when the key was claimed before (the candidates are then not read)."""
    claim = _CLAIM.cte("claim")
    case_table = cast(Table, Case.__table__)
    candidate = (
        candidates_query(by_phone, by_id_number)
        .add_columns(case_table.c.created_at)
        .lateral("candidate")
    )
    return (
        select(
            claim.c.case_sequence,
            candidate.c.id,
            candidate.c.subject,
            candidate.c.description,
            candidate.c.category_code,
        )
        .select_from(claim)
        .outerjoin(candidate, true())
        .order_by(candidate.c.created_at.desc())
    )


@dataclass(frozen=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` this request holds, the case number drawn with it and, when
    the claim looked them up, the petitioner's earlier cases (repeat candidates)."""

    scope: str
    key: str
    case_sequence: int | None
    repeat_candidates: list[repeats.Candidate] | None = None


async def claim_idempotency_key(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    digest: str,
    lookup: RepeatLookup | None = None,
) -> IdempotencyClaim | IdempotencyKey:
    """Claim ``key`` for this request, or return the earlier request's record.

    The insert waits on a concurrent transaction holding the same key, so two identical
    requests racing each other still create one case. The claim also draws the new case's
    number from ``case_number_seq`` and, given a ``lookup``, reads the repeat candidates
    (one round trip for all; a replay draws and reads nothing).
    """
    params: dict[str, Any] = {"scope": scope, "key": key, "request_hash": digest}
    if lookup is None:
        claimed = await session.scalar(_CLAIM, params)
        if claimed is not None:
            return IdempotencyClaim(scope=scope, key=key, case_sequence=claimed)
    else:
        if lookup.phone_index:
            params["phone_index"] = list(lookup.phone_index)
        if lookup.id_number_index:
            params["id_number_index"] = list(lookup.id_number_index)
        params["since"] = lookup.since
        params["kind"] = lookup.kind
        statement = _claim_and_candidates(bool(lookup.phone_index), bool(lookup.id_number_index))
        rows = (await session.execute(statement, params)).all()
        if rows:
            return IdempotencyClaim(
                scope=scope,
                key=key,
                case_sequence=rows[0].case_sequence,
                repeat_candidates=[
                    repeats.Candidate(r.id, r.subject, r.description, r.category_code)
                    for r in rows
                    if r.id is not None
                ],
            )
    earlier = await session.get(IdempotencyKey, (scope, key))
    assert earlier is not None
    if earlier.request_hash != digest:
        raise IdempotencyKeyReused(key)
    return earlier
