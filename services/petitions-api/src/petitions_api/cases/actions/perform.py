"""Taking one step (``perform``): the caller's authority, the state machine, the guards, the
step's handler, the timeline and the events — each once, in that order."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.petitions import DeadlineKind
from gov_common.problems import ProblemError
from gov_common.security.principal import Role
from petitions_api.cases import authority, clock, events
from petitions_api.cases.actions.base import ActionRefused, Context, check_acts_here, record
from petitions_api.cases.actions.registry import HANDLERS
from petitions_api.cases.lifecycle import (
    Action,
    ActionNotAllowed,
    CaseFacts,
    GuardFailed,
    Party,
    RequestKind,
    check_guards,
    step_of,
)
from petitions_api.cases.models import Case, CaseRequest
from petitions_api.cases.schemas import ActionBody, RequestReviewBody
from petitions_api.cases.scope import get_case
from petitions_api.cases.views import check_if_match
from petitions_api.config import Settings
from petitions_api.deadlines import service as deadlines
from petitions_api.deadlines.calendar.cache import cache as calendar_cache
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import REVIEW_REQUEST_WINDOW
from petitions_api.deadlines.days import china_date
from petitions_api.metrics import rollup


async def _facts(
    session: AsyncSession,
    case: Case,
    action: Action,
    today: date,
    body: ActionBody,
    calendar: WorkingCalendar,
) -> CaseFacts:
    """What the guards of ``action`` need, read only when that action needs it."""
    return_due_on, refused_returns, final_matter = None, frozenset[str](), False
    if action is Action.RETURN:
        return_clock = await deadlines.open_deadlines(session, case.id, [DeadlineKind.RETURN])
        return_due_on = return_clock[0].due_on if return_clock else None
        refused = await session.scalars(
            select(CaseRequest.unit_id).where(
                CaseRequest.case_id == case.id,
                CaseRequest.kind == RequestKind.RETURN,
                CaseRequest.approved.is_(False),
            )
        )
        refused_returns = frozenset(u for u in refused.all() if u is not None)
    if action in (Action.ACCEPT, Action.DISPATCH):
        final_matter = await _matter_concluded_by_review(session, case)
    requested_on = window_ends_on = received_reply_on = None
    if isinstance(body, RequestReviewBody) and case.replied_on is not None:
        requested_on = body.requested_on or today
        received_reply_on = body.reply_received_on or case.replied_on
        _check_review_dates(case.replied_on, received_reply_on, requested_on, today)
        window = REVIEW_REQUEST_WINDOW
        window_ends_on = calendar.reckoning().statutory_due_on(received_reply_on, window.length)
    return CaseFacts(
        kind=case.kind,
        status=case.status,
        today=today,
        extended=case.extended,
        rating=case.rating,
        replied_on=case.replied_on,
        review_stage=case.review_stage,
        review_requested=case.review_requested,
        final_matter=final_matter,
        return_due_on=return_due_on,
        refused_returns=refused_returns,
        handling_unit_id=case.handling_unit_id,
        reply_received_on=received_reply_on,
        requested_on=requested_on,
        review_window_ends_on=window_ends_on,
    )


async def _matter_concluded_by_review(session: AsyncSession, case: Case) -> bool:
    """Is the matter this case repeats concluded by 复核 — anywhere along the chain of
    repeats, not only at the filing it links to (《信访工作条例》第三十六条: after 复核 the
    same request on the same facts and reasons is not accepted again)?

    Filing B repeats the concluded A and is declined; filing C links to B (the newest alike)
    and is still the same matter, so it is declined too.
    """
    seen: set[uuid.UUID] = {case.id}
    earlier_id = case.repeat_of
    while earlier_id is not None and earlier_id not in seen:
        seen.add(earlier_id)
        earlier = await session.get(Case, earlier_id)
        if earlier is None:
            return False
        if earlier.final:
            return True
        earlier_id = earlier.repeat_of
    return False


def _check_review_dates(
    replied_on: date, received_on: date, requested_on: date, today: date
) -> None:
    """The days a 复查/复核 request names must be possible: received after the reply was
    given, requested after it was received, neither in the future."""
    problems = []
    if received_on < replied_on:
        problems.append(
            ("reply_received_on", f"{received_on} is before the reply was given ({replied_on})")
        )
    if received_on > today:
        problems.append(("reply_received_on", f"{received_on} is in the future"))
    if requested_on > today:
        problems.append(("requested_on", f"{requested_on} is in the future"))
    if requested_on < received_on:
        problems.append(
            ("requested_on", f"{requested_on} is before the reply was received ({received_on})")
        )
    if problems:
        raise ProblemError(
            422,
            "; ".join(f"{name}: {reason}" for name, reason in problems),
            problem_type="validation-error",
            extra={"invalid_params": [{"name": n, "reason": r} for n, r in problems]},
        )


async def perform(
    session: AsyncSession,
    case_id: uuid.UUID,
    action: Action,
    body: ActionBody,
    *,
    actor: str,
    if_match: str | None,
    scope: str | None = None,
    roles: frozenset[Role] | None = None,
    settings: Settings,
) -> tuple[Case, Case | None]:
    """Apply ``action`` to the case; returns the case and, for a review request, the new case.

    ``scope`` is the caller's org unit (None: the whole district), ``roles`` its roles (None:
    unrestricted: calls from inside the service) — who may take the step (the state machine's
    party, ``authority``) and what a refusal lists as allowed."""
    case = await get_case(session, case_id, for_update=True, scope=scope)
    check_if_match(case, if_match)
    await check_acts_here(session, case, scope)
    pending = (await authority.pending_requests(session, [case])).get(case.id)
    where = authority.position_of(case, pending.kind if pending else None)
    allowed = authority.allowed_for(
        case, roles=roles, acts_here=True, scope=scope, pending=where.pending
    )
    before = case.status
    try:
        step = step_of(where, action)
    except ActionNotAllowed as exc:
        raise ActionRefused(
            str(exc), before, problem_type="action-not-allowed", allowed=allowed
        ) from None
    if not authority.may_take(step.by, case, roles=roles, scope=scope):
        raise ActionRefused(
            f"{action.value} on this case is the step of {PARTY_NAMES[step.by]}",
            before,
            problem_type="not-your-step",
            allowed=allowed,
        )
    counted = rollup.share_of(case)
    now = clock.now()
    today = china_date(now)
    calendar = await calendar_cache.calendar(session)
    try:
        check_guards(action, await _facts(session, case, action, today, body, calendar))
    except GuardFailed as exc:
        raise ActionRefused(
            str(exc), before, problem_type="action-refused", allowed=allowed
        ) from None

    context = Context(session, settings, case, actor, now, today, calendar, allowed)
    outcome = await HANDLERS[action](context, body)
    case.status = step.next
    case.version += 1
    record(
        session,
        case,
        action=action.value,
        from_status=before,
        actor=actor,
        at=now,
        reason=getattr(body, "reason", None) or body.note,
        details=outcome.details,
    )
    for type_name, fields in outcome.events:
        await events.publish(
            session,
            settings,
            case,
            events.lifecycle_event(
                case,
                type_name,
                source=settings.event_source,
                occurred_at=now,
                actor=actor,
                **fields,
            ),
        )
    # Last, so that the rollup row stays locked for as short a time as possible.
    await rollup.record_change(session, counted, rollup.share_of(case))
    await session.flush()
    await session.refresh(case)
    return case, outcome.created


PARTY_NAMES = {
    Party.REGISTRY: "the registry (信访部门 / 12345 centre)",
    Party.UNIT: "the handling unit (承办单位)",
    Party.UNIT_HEAD: "the handling unit's head (本机关、单位负责人)",
    Party.SUPERVISION: "supervision (督办)",
}
