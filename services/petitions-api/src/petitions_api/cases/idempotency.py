"""Idempotency-Key of ``POST /v1/cases`` on :mod:`gov_common.idempotency`, with the fast path
a registration needs: the claim draws the case number and reads the repeat candidates in the
same round trip.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any, cast

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import Select, Table, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.idempotency import Idempotency, claim_statement, guard_for
from gov_common.security.principal import Principal
from petitions_api.cases import repeats
from petitions_api.cases.models import Case, IdempotencyKey, case_number_seq
from petitions_api.cases.repeat_candidates import RepeatLookup, candidates_query
from petitions_api.cases.schemas import CaseCreate

# Keys of registrations were stored as ``cases:<caller>`` before this table moved onto
# gov_common; keeping the prefix keeps a retry of such a request a replay.
NAMESPACE = "cases:"


def registration_guard(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str | None,
    body: CaseCreate,
) -> Idempotency:
    """The ``Idempotency-Key`` guard of a registration. Its digest is keyed (an HMAC under the
    blind-index key): bodies hold names, phones and ID numbers, and a plain hash of them could
    be matched by guessing. While that key is rotated, digests under the previous ones are
    accepted too (``GOV_PII_PREVIOUS_INDEX_KEYS``)."""
    return guard_for(
        session,
        IdempotencyKey,
        request,
        principal,
        key,
        body,
        namespace=NAMESPACE,
        also_accept=lambda: [_unkeyed_digest(body)],
    )


def _unkeyed_digest(body: CaseCreate) -> str:
    """The digest keys claimed before migration 0009 were stored with (plain SHA-256 of the
    body); no new row is stored with it, and the old ones go with the retention job."""
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


# Built once (SQLAlchemy then reuses its compiled form without re-deriving a cache key);
# Core, not ORM: nothing here needs the identity map.
_CLAIM = claim_statement(IdempotencyKey).returning(
    case_number_seq.next_value().label("case_sequence")
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
    session: AsyncSession, guard: Idempotency, lookup: RepeatLookup | None = None
) -> IdempotencyClaim | IdempotencyKey:
    """Claim the guard's key for this request, or return the earlier request's record.

    The insert waits on a concurrent transaction holding the same key, so two identical
    requests racing each other still create one case. The claim also draws the new case's
    number from ``case_number_seq`` and, given a ``lookup``, reads the repeat candidates
    (one round trip for all; a replay draws and reads nothing). A different body under the
    same key is gov_common's 422 ``idempotency-key-reused``.
    """
    assert guard.key is not None
    params = guard.params
    if lookup is None:
        claimed = await session.scalar(_CLAIM, params)
        if claimed is not None:
            return IdempotencyClaim(scope=guard.scope, key=guard.key, case_sequence=claimed)
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
                scope=guard.scope,
                key=guard.key,
                case_sequence=rows[0].case_sequence,
                repeat_candidates=[
                    repeats.Candidate(r.id, r.subject, r.description, r.category_code)
                    for r in rows
                    if r.id is not None
                ],
            )
    earlier: IdempotencyKey = await guard.earlier()
    return earlier


def replay(guard: Idempotency, earlier: IdempotencyKey) -> JSONResponse:
    """The earlier registration's answer again (its ``Location`` remembered), with its ETag."""
    body = cast(dict[str, Any], earlier.response_body)
    return guard.replay_response(earlier, {"ETag": f'"{body["version"]}"'})
