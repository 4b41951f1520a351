"""Acceptance and routing: accept (受理), decline (不予受理), dispatch (派单/转送/交办), take
(签收), and return (退单) — for a 信访 case a request the 信访部门 approves (re-dispatching) or
refuses.

A 信访 case is accepted in two steps (《信访工作条例》第二十二条): the 信访部门 registers it and
within 15 days forwards or assigns it (``forwarding`` clock, from the day received); the organ
that receives it decides within 15 days of receiving it and tells the petitioner in writing
(``acceptance`` clock, from the day of dispatch; met on the notice's day). A decline names the
statutory route the matter belongs to (第三十一条), not free text alone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from gov_common.events import petitions as contracts
from gov_common.events.petitions import CaseKind, DeadlineKind, NoticeMeans
from petitions_api.cases.actions.base import (
    Context,
    Outcome,
    due_day,
    handles,
    handling_clock,
    invalid,
)
from petitions_api.cases.lifecycle import Action, CaseStatus, RequestKind, ReviewStage
from petitions_api.cases.models import CaseRequest
from petitions_api.cases.schemas import (
    AcceptBody,
    ApproveReturnBody,
    DeclineBody,
    DispatchBody,
    NoticeIn,
    RefuseReturnBody,
    ReturnBody,
    TakeBody,
)
from petitions_api.cases.scope import within_accused
from petitions_api.deadlines import clocks
from petitions_api.deadlines import service as deadlines
from petitions_api.deadlines.days import end_of_day
from petitions_api.reference import service as reference
from petitions_api.reference.models import OrgUnit


def _notice(ctx: Context, notice: NoticeIn | None, what: str) -> tuple[date, NoticeMeans]:
    """A 信访 case's decision is notified in writing (书面告知): the day and the means."""
    if notice is None:
        raise invalid(
            "notice",
            "required",
            f"a 信访 case's {what} is notified to the petitioner in writing (书面告知): give "
            "notice.means and notice.given_on (第二十二条)",
        )
    given_on = notice.given_on or ctx.today
    if given_on < ctx.case.received_on:
        raise invalid("notice.given_on", "too early", f"{given_on} is before the case arrived")
    return given_on, notice.means


def _noticed_at(ctx: Context, given_on: date) -> datetime:
    """The instant the notice meets the clock: now, or the end of an earlier notice day."""
    return min(ctx.now, end_of_day(given_on))


async def check_not_accused(ctx: Context, unit: OrgUnit) -> None:
    """A 检举控告 case is never sent to the unit it accuses or a unit below it (不得将检举、
    揭发材料及有关情况透露或者转给被检举、揭发的人员或者单位)."""
    accused = ctx.case.accused_unit_id
    if await within_accused(ctx.session, accused, unit):
        raise invalid(
            "to_unit_id",
            "accused unit",
            f"the case accuses {accused}; it is not sent to {unit.code}, which is that unit "
            "or lies below it",
        )


async def _open_acceptance_and_return(ctx: Context) -> tuple[date, bool, date | None, bool]:
    """Clocks a unit receiving the case starts: its return window and, for a 信访 case not
    yet accepted, its 15 days to decide acceptance."""
    returning = await ctx.open_clock(
        clocks.spec_for(ctx.rule(DeadlineKind.RETURN), started_at=ctx.now)
    )
    accepting = None
    if ctx.case.kind is CaseKind.PETITION_CASE and ctx.case.accepted_on is None:
        rule = ctx.rule(DeadlineKind.ACCEPTANCE)
        accepting = await ctx.open_clock(
            clocks.spec_for(rule, started_at=ctx.now, starts_on=ctx.today)
        )
    return (
        due_day(returning),
        returning.provisional,
        due_day(accepting) if accepting else None,
        accepting.provisional if accepting else False,
    )


@handles(Action.ACCEPT, AcceptBody)
async def accept(ctx: Context, body: AcceptBody) -> Outcome:
    case = ctx.case
    met_at, details = ctx.now, {}
    if case.kind is CaseKind.PETITION_CASE:
        given_on, means = _notice(ctx, body.notice, "acceptance")
        case.decision_notified_on, case.decision_notice_means = given_on, means
        met_at = _noticed_at(ctx, given_on)
        details = {"notified_on": given_on.isoformat(), "notice_means": means.value}
    case.accepted_on = ctx.today
    await deadlines.meet_deadlines(ctx.session, case.id, [DeadlineKind.ACCEPTANCE], at=met_at)
    if case.status is CaseStatus.DISPATCHED:
        # The organ accepting the case takes it: its window to return it ends.
        await deadlines.meet_deadlines(ctx.session, case.id, [DeadlineKind.RETURN], at=ctx.now)
        if case.responded_at is None:
            case.responded_at = ctx.now
    # A 信访 case's 60 days run from acceptance (第三十四条); a review already runs its 30-day
    # clock, a ticket its tier's since registration.
    if case.kind is CaseKind.PETITION_CASE and case.review_stage is ReviewStage.ORIGINAL:
        rule = ctx.rule(DeadlineKind.HANDLING)
        await ctx.open_clock(clocks.spec_for(rule, started_at=ctx.now, starts_on=ctx.today))
    clock = await handling_clock(ctx)
    return Outcome(
        [
            (
                contracts.CASE_ACCEPTED_V1,
                {
                    "handling_due_on": due_day(clock) if clock else ctx.today,
                    "handling_due_provisional": clock.provisional if clock else False,
                },
            )
        ],
        details={**details, "unit_id": case.handling_unit_id},
    )


@handles(Action.DECLINE, DeclineBody)
async def decline(ctx: Context, body: DeclineBody) -> Outcome:
    case = ctx.case
    met_at, details = ctx.now, {}
    if case.kind is CaseKind.PETITION_CASE:
        if body.route is None:
            raise invalid(
                "route",
                "required",
                "a 信访 case is declined naming the statutory route the matter belongs to "
                "(第三十一条), e.g. litigation_related for the 政法 channel",
            )
        given_on, means = _notice(ctx, body.notice, "decline")
        case.decline_route = body.route
        case.decision_notified_on, case.decision_notice_means = given_on, means
        met_at = _noticed_at(ctx, given_on)
        details = {
            "route": body.route.value,
            "notified_on": given_on.isoformat(),
            "notice_means": means.value,
        }
    await deadlines.meet_deadlines(
        ctx.session, case.id, [DeadlineKind.FORWARDING, DeadlineKind.ACCEPTANCE], at=met_at
    )
    await deadlines.cancel_deadlines(ctx.session, case.id, None, at=ctx.now)
    case.closed_on = ctx.today
    return Outcome(
        [(contracts.CASE_DECLINED_V1, {"reason": body.reason, "route": case.decline_route})],
        details=details,
    )


async def _unit_named(ctx: Context, to_unit_id: str | None) -> OrgUnit:
    case = ctx.case
    if to_unit_id:
        return await reference.get_unit(ctx.session, to_unit_id, field="to_unit_id")
    code = case.handling_unit_id
    if code is None and case.category_code:
        category = await reference.get_category(ctx.session, case.category_code)
        place = await ctx.session.get(OrgUnit, case.place_unit_id) if case.place_unit_id else None
        code = await reference.route(ctx.session, category, place)
    if code is None:
        raise invalid(
            "to_unit_id",
            "required here",
            "the case has no category routing to follow; name the unit",
        )
    return await reference.get_unit(ctx.session, code, field="to_unit_id")


async def _send_to(ctx: Context, unit: OrgUnit) -> Outcome:
    """Dispatch the case to ``unit``: its clocks start, the dispatched event says when."""
    await check_not_accused(ctx, unit)
    ctx.case.handling_unit_id = unit.code
    return_due_on, return_provisional, accept_due_on, _ = await _open_acceptance_and_return(ctx)
    handling = await handling_clock(ctx)
    return Outcome(
        [
            (
                contracts.CASE_DISPATCHED_V1,
                {
                    "to_unit_id": unit.code,
                    "return_due_on": return_due_on,
                    "return_due_provisional": return_provisional,
                    "handling_due_on": due_day(handling) if handling else None,
                    "handling_due_provisional": handling.provisional if handling else None,
                },
            )
        ],
        details={
            "to_unit_id": unit.code,
            "return_due_on": return_due_on.isoformat(),
            "acceptance_due_on": accept_due_on.isoformat() if accept_due_on else None,
        },
    )


@handles(Action.DISPATCH, DispatchBody)
async def dispatch(ctx: Context, body: DispatchBody) -> Outcome:
    unit = await _unit_named(ctx, body.to_unit_id)
    # The 信访部门 forwards (转送) or assigns (交办) within its 15 days.
    await deadlines.meet_deadlines(ctx.session, ctx.case.id, [DeadlineKind.FORWARDING], at=ctx.now)
    return await _send_to(ctx, unit)


@handles(Action.TAKE, TakeBody)
async def take(ctx: Context, body: TakeBody) -> Outcome:
    # Taking the case ends the window in which the unit may return it.
    await deadlines.meet_deadlines(ctx.session, ctx.case.id, [DeadlineKind.RETURN], at=ctx.now)
    if ctx.case.responded_at is None:
        ctx.case.responded_at = ctx.now  # the first 签收: what the response rate counts
    return Outcome(details={"unit_id": ctx.case.handling_unit_id})


@handles(Action.RETURN, ReturnBody)
async def return_case(ctx: Context, body: ReturnBody) -> Outcome:
    case = ctx.case
    from_unit = case.handling_unit_id or ""
    # Asking in time is what the window is for: it is met by the request.
    await deadlines.meet_deadlines(ctx.session, case.id, [DeadlineKind.RETURN], at=ctx.now)
    if case.kind is CaseKind.HOTLINE_TICKET:
        case.handling_unit_id = None  # back with the centre, to be re-dispatched
        return Outcome(
            [(contracts.CASE_RETURNED_V1, {"from_unit_id": from_unit, "reason": body.reason})],
            details={"from_unit_id": from_unit},
        )
    # A 信访 case: a request; the case and its clock stay with the unit until decided.
    ctx.session.add(
        CaseRequest(
            case_id=case.id,
            kind=RequestKind.RETURN,
            unit_id=case.handling_unit_id,
            requested_by=ctx.actor,
            requested_at=ctx.now,
            reason=body.reason,
        )
    )
    return Outcome(
        [request_opened(RequestKind.RETURN, reason=body.reason)],
        details={"from_unit_id": from_unit, "requested": True},
    )


async def open_request(ctx: Context, kind: RequestKind) -> CaseRequest:
    request = await ctx.session.scalar(
        select(CaseRequest)
        .where(CaseRequest.case_id == ctx.case.id, CaseRequest.decided_at.is_(None))
        .with_for_update()
    )
    if request is None or request.kind is not kind:
        raise ctx.refuse(f"the case has no {kind.value} request waiting on a decision")
    return request


def request_opened(
    kind: RequestKind, *, reason: str, days: int | None = None
) -> tuple[str, dict[str, Any]]:
    """The event of a request waiting on its decider (the registry for a return, the unit's
    head for an extension), so the notifier can tell them."""
    return (
        contracts.CASE_REQUEST_OPENED_V1,
        {
            "request": kind.value,
            "decided_by": "registry" if kind is RequestKind.RETURN else "unit_head",
            "reason": reason,
            "days": days,
        },
    )


def decide(
    ctx: Context, request: CaseRequest, *, approved: bool, reason: str | None
) -> tuple[str, dict[str, Any]]:
    """Record the decision on ``request``; its event (request_decided)."""
    request.approved, request.decided_by, request.decided_at = approved, ctx.actor, ctx.now
    request.decision_reason = reason
    return (
        contracts.CASE_REQUEST_DECIDED_V1,
        {"request": request.kind.value, "approved": approved, "requested_by": request.requested_by},
    )


@handles(Action.APPROVE_RETURN, ApproveReturnBody)
async def approve_return(ctx: Context, body: ApproveReturnBody) -> Outcome:
    """The 信访部门 agrees: the case goes to the unit it belongs to, whose clocks start."""
    request = await open_request(ctx, RequestKind.RETURN)
    case = ctx.case
    from_unit = case.handling_unit_id or ""
    unit = await reference.get_unit(ctx.session, body.to_unit_id, field="to_unit_id")
    if unit.code == from_unit:
        raise invalid("to_unit_id", "same unit", f"the case is with {from_unit} already")
    decided = decide(ctx, request, approved=True, reason=body.note)
    # The returning unit's acceptance clock ends with it; the next unit's starts.
    await deadlines.cancel_deadlines(
        ctx.session, case.id, [DeadlineKind.ACCEPTANCE, DeadlineKind.RETURN], at=ctx.now
    )
    sent = await _send_to(ctx, unit)
    returned = (contracts.CASE_RETURNED_V1, {"from_unit_id": from_unit, "reason": request.reason})
    return Outcome(
        [decided, returned, *sent.events],
        details={**sent.details, "from_unit_id": from_unit, "request_id": request.id},
    )


@handles(Action.REFUSE_RETURN, RefuseReturnBody)
async def refuse_return(ctx: Context, body: RefuseReturnBody) -> Outcome:
    """The 信访部门 refuses: the case stays with the unit, its clock still running."""
    request = await open_request(ctx, RequestKind.RETURN)
    decided = decide(ctx, request, approved=False, reason=body.reason)
    return Outcome(
        [decided], details={"unit_id": ctx.case.handling_unit_id, "request_id": request.id}
    )


HANDLERS = (accept, decline, dispatch, take, return_case, approve_return, refuse_return)
