"""The petitioner's earlier cases a new case may repeat (重复信访), found by blind index, scored by
``repeats``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.petitions import (
    CaseKind,
)
from petitions_api.cases import clock, repeats
from petitions_api.cases.models import (
    Case,
    Petitioner,
)
from petitions_api.cases.personal_data import Protector
from petitions_api.cases.schemas import (
    CaseCreate,
)
from petitions_api.config import Settings


async def find_repeat(
    session: AsyncSession,
    settings: Settings,
    *,
    kind: CaseKind,
    subject: str,
    description: str,
    category_code: str | None,
    phone_index: tuple[str, ...],
    id_number_index: tuple[str, ...],
    now: datetime,
) -> tuple[uuid.UUID, float] | None:
    # The same petitioner: equal blind indexes of the normalised phone or ID number.
    if not phone_index and not id_number_index:
        return None
    prepared = candidates_query(bool(phone_index), bool(id_number_index))
    params: dict[str, Any] = {
        "since": now - timedelta(days=settings.repeat_lookback_days),
        "kind": kind,
    }
    if phone_index:
        params["phone_index"] = list(phone_index)
    if id_number_index:
        params["id_number_index"] = list(id_number_index)
    rows = (await session.execute(prepared, params)).all()
    candidates = [repeats.Candidate(r.id, r.subject, r.description, r.category_code) for r in rows]
    return repeats.best_match(
        subject=subject,
        description=description,
        category_code=category_code,
        candidates=candidates,
        threshold=settings.repeat_similarity,
    )


def best_repeat(
    settings: Settings, data: CaseCreate, candidates: list[repeats.Candidate]
) -> tuple[uuid.UUID, float] | None:
    return repeats.best_match(
        subject=data.subject,
        description=data.description,
        category_code=data.category_code,
        candidates=candidates,
        threshold=settings.repeat_similarity,
    )


@dataclass(frozen=True)
class RepeatLookup:
    """Who a new case's petitioner is (blind indexes) and since when earlier cases count:
    what the repeat check reads, so that the idempotency claim can read it too."""

    phone_index: tuple[str, ...]  # the hashes to look for (old index keys too, see Protector)
    id_number_index: tuple[str, ...]
    since: datetime
    kind: CaseKind  # repeats are of the same kind: a 12345 call does not repeat a 信访 case


def repeat_lookup(data: CaseCreate, settings: Settings) -> RepeatLookup | None:
    """None when the case names no phone or ID number (nothing to look up)."""
    petitioner = data.petitioner
    if petitioner is None:
        return None
    protector = Protector.from_settings(settings)
    phone_index = protector.phone_lookup(petitioner.phone)
    id_number_index = protector.id_number_lookup(petitioner.id_number)
    if not phone_index and not id_number_index:
        return None
    return RepeatLookup(
        phone_index,
        id_number_index,
        clock.now() - timedelta(days=settings.repeat_lookback_days),
        data.kind,
    )


@functools.cache
def candidates_query(by_phone: bool, by_id_number: bool) -> Select[Any]:
    """The same petitioner's cases of kind ``:kind`` since ``:since``, newest first: built once
    per identity combination, Core columns (no ORM entities to load)."""
    case_table, petitioner_table = cast(Table, Case.__table__), cast(Table, Petitioner.__table__)
    cases, petitioners = case_table.c, petitioner_table.c
    identity = []
    if by_phone:
        identity.append(petitioners.phone_index.in_(bindparam("phone_index", expanding=True)))
    if by_id_number:
        identity.append(
            petitioners.id_number_index.in_(bindparam("id_number_index", expanding=True))
        )
    return (
        select(cases.id, cases.subject, cases.description, cases.category_code)
        .join_from(case_table, petitioner_table, petitioners.case_id == cases.id)
        .where(or_(*identity))
        .where(cases.kind == bindparam("kind"))
        .where(cases.created_at >= bindparam("since"))
        .order_by(cases.created_at.desc())
        .limit(50)
    )
