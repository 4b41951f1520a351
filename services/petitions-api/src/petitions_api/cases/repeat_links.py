"""Linking, confirming and unlinking a repeat (重复信访): each a new version, a timeline entry, an
event.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import petitions as contracts
from gov_common.events.petitions import (
    RepeatChange,
)
from gov_common.problems import ProblemError
from petitions_api.cases import clock, events
from petitions_api.cases.actions.base import check_acts_here, record
from petitions_api.cases.models import (
    Case,
)
from petitions_api.cases.scope import get_case, scope_condition
from petitions_api.cases.views import check_if_match
from petitions_api.config import Settings
from petitions_api.metrics import rollup


async def link_repeat(
    session: AsyncSession,
    case_id: uuid.UUID,
    repeat_of: uuid.UUID,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    note: str | None,
    settings: Settings,
) -> Case:
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    await check_acts_here(session, case, scope)
    statement = select(Case).where(Case.id == repeat_of)
    in_scope = await scope_condition(session, scope)
    earlier = await session.scalar(statement if in_scope is None else statement.where(in_scope))
    if earlier is None:
        raise ProblemError(
            422,
            f"repeat_of: case {repeat_of} does not exist",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "repeat_of", "reason": "unknown"}]},
        )
    if earlier.id == case.id or earlier.created_at >= case.created_at:
        raise ProblemError(
            422,
            "repeat_of: a case repeats an earlier case, not itself or a later one",
            problem_type="validation-error",
            extra={"invalid_params": [{"name": "repeat_of", "reason": "not earlier"}]},
        )
    counted = rollup.share_of(case)
    case.repeat_of, case.first_time, case.repeat_confirmed = earlier.id, False, True
    await rollup.record_change(session, counted, rollup.share_of(case))
    return await _record_repeat_change(
        session,
        case,
        action="repeat_linked",
        change=RepeatChange.LINKED,
        actor=actor,
        note=note,
        settings=settings,
        details={"repeat_of": str(earlier.id)},
    )


async def confirm_repeat(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    note: str | None,
    settings: Settings,
) -> Case:
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    await check_acts_here(session, case, scope)
    if case.repeat_of is None:
        raise ProblemError(
            409,
            "the case is not linked as a repeat; link it with POST …/repeat",
            problem_type="not-a-repeat",
        )
    case.repeat_confirmed = True
    return await _record_repeat_change(
        session,
        case,
        action="repeat_confirmed",
        change=RepeatChange.CONFIRMED,
        actor=actor,
        note=note,
        settings=settings,
        details={"repeat_of": str(case.repeat_of)},
    )


async def unlink_repeat(
    session: AsyncSession,
    case_id: uuid.UUID,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    note: str | None,
    settings: Settings,
) -> Case:
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    await check_acts_here(session, case, scope)
    if case.repeat_of is None:
        raise ProblemError(409, "the case is not linked as a repeat", problem_type="not-a-repeat")
    previous = case.repeat_of
    counted = rollup.share_of(case)
    case.repeat_of, case.first_time, case.repeat_confirmed, case.repeat_score = (
        None,
        True,
        False,
        None,
    )
    await rollup.record_change(session, counted, rollup.share_of(case))
    return await _record_repeat_change(
        session,
        case,
        action="repeat_unlinked",
        change=RepeatChange.UNLINKED,
        actor=actor,
        note=note,
        settings=settings,
        details={"was_repeat_of": str(previous)},
    )


async def _record_repeat_change(
    session: AsyncSession,
    case: Case,
    *,
    action: str,
    change: RepeatChange,
    actor: str,
    note: str | None,
    settings: Settings,
    details: dict[str, Any],
) -> Case:
    """A change to the repeat link: a new version of the case, its timeline entry and its
    ``case.repeat_changed`` event (first-time counts elsewhere follow it)."""
    now = clock.now()
    case.version += 1
    record(
        session,
        case,
        action=action,
        from_status=case.status,
        actor=actor,
        at=now,
        reason=note,
        details=details,
    )
    was = details.get("was_repeat_of")
    await events.publish(
        session,
        settings,
        case,
        events.lifecycle_event(
            case,
            contracts.CASE_REPEAT_CHANGED_V1,
            source=settings.event_source,
            occurred_at=now,
            actor=actor,
            change=change,
            repeat_of=case.repeat_of,
            repeat_confirmed=case.repeat_confirmed,
            was_repeat_of=uuid.UUID(was) if was else None,
        ),
    )
    await session.flush()
    await session.refresh(case)  # updated_at is set by the database
    return case
