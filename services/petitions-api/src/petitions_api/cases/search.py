"""Finding cases: filters over the caller's scope, newest first, keyset pages."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Select,
    and_,
    exists,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.petitions import (
    CaseKind,
    DeadlineKind,
)
from gov_common.pagination import decode_cursor, encode_cursor
from petitions_api.cases import clock
from petitions_api.cases.lifecycle import (
    CaseStatus,
)
from petitions_api.cases.models import (
    Case,
    Petitioner,
)
from petitions_api.cases.scope import scope_condition
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.reference import service as reference
from petitions_api.reference.models import OrgUnit


async def search(
    session: AsyncSession,
    *,
    status: list[CaseStatus] | None = None,
    kind: CaseKind | None = None,
    unit: str | None = None,
    place_unit: str | None = None,
    category_code: str | None = None,
    channel: str | None = None,
    overdue: bool | None = None,
    deadline: DeadlineKind | None = None,
    supervised: bool | None = None,
    first_time: bool | None = None,
    received_from: date | None = None,
    received_to: date | None = None,
    q: str | None = None,
    parent_case_id: uuid.UUID | None = None,
    phone_index: tuple[str, ...] | None = None,
    limit: int = 50,
    cursor: str | None = None,
    now: datetime | None = None,
    scope: str | None = None,
) -> tuple[list[Case], str | None]:
    """Cases newest first, filtered; ``unit``/``place_unit`` match a whole subtree, and only
    cases in the caller's ``scope`` are seen. ``phone_index`` is the blind index of a
    petitioner's phone (its hashes under the current and any old index key): the earlier cases
    of a caller, found without decrypting anything."""
    statement: Select[tuple[Case]] = select(Case)
    if phone_index is not None:
        statement = statement.where(
            Case.id.in_(select(Petitioner.case_id).where(Petitioner.phone_index.in_(phone_index)))
        )
    in_scope = await scope_condition(session, scope)
    if in_scope is not None:
        statement = statement.where(in_scope)
    if status:
        statement = statement.where(Case.status.in_(status))
    if kind:
        statement = statement.where(Case.kind == kind)
    if unit:
        path = await reference.subtree_path(session, unit, field="unit")
        statement = statement.where(
            Case.handling_unit_id.in_(
                select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True))
            )
        )
    if place_unit:
        path = await reference.subtree_path(session, place_unit, field="place_unit")
        statement = statement.where(
            Case.place_unit_id.in_(
                select(OrgUnit.code).where(OrgUnit.path.startswith(path, autoescape=True))
            )
        )
    if category_code:
        statement = statement.where(Case.category_code == category_code)
    if channel:
        statement = statement.where(Case.channel == channel)
    if first_time is not None:
        statement = statement.where(Case.first_time.is_(first_time))
    if received_from:
        statement = statement.where(Case.received_on >= received_from)
    if received_to:
        statement = statement.where(Case.received_on <= received_to)
    if parent_case_id:
        statement = statement.where(Case.parent_case_id == parent_case_id)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                Case.subject.ilike(pattern),
                Case.description.ilike(pattern),
                Case.case_number.ilike(pattern),
            )
        )
    if overdue is not None:
        late = exists().where(
            and_(
                CaseDeadline.case_id == Case.id,
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled_at.is_(None),
                CaseDeadline.due_at < (now or clock.now()),
                true() if deadline is None else CaseDeadline.kind == deadline,
            )
        )
        statement = statement.where(late if overdue else ~late)
    if supervised is not None:
        # Under 督办: a supervision clock still running.
        watched = exists().where(
            and_(
                CaseDeadline.case_id == Case.id,
                CaseDeadline.kind == DeadlineKind.SUPERVISION,
                CaseDeadline.met_at.is_(None),
                CaseDeadline.cancelled_at.is_(None),
            )
        )
        statement = statement.where(watched if supervised else ~watched)
    if cursor:
        key = decode_cursor(cursor, datetime, uuid.UUID)
        statement = statement.where(func.row(Case.created_at, Case.id) < func.row(*key))
    rows = list(
        (
            await session.scalars(
                statement.order_by(Case.created_at.desc(), Case.id.desc()).limit(limit + 1)
            )
        ).all()
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return rows, next_cursor
