"""Handling: the reply (答复), extension (延期), supervision (督办), escalation (提级).

A 12345 ticket is extended in one step by the centre's supervisor. A 信访 case is extended by
the handling unit's request and its head's approval (《信访工作条例》第三十四条: 经本机关、单位
负责人批准, 可以适当延长办理期限, 但延长期限不得超过30日, 并告知信访人延期理由): the head
approves or refuses; the notice of the extension to the petitioner is recorded.
"""

from __future__ import annotations

from dataclasses import replace

from gov_common.events import petitions as contracts
from gov_common.events.petitions import DeadlineKind, ResolutionLevel
from petitions_api.cases.actions.acceptance import (
    check_not_accused,
    decide,
    open_request,
    request_opened,
)
from petitions_api.cases.actions.base import (
    HANDLING_KINDS,
    Context,
    Outcome,
    due_day,
    handles,
    handling_clock,
    invalid,
)
from petitions_api.cases.lifecycle import Action, RequestKind
from petitions_api.cases.models import CaseRequest
from petitions_api.cases.schemas import (
    ApproveExtensionBody,
    EscalateBody,
    ExtendBody,
    RefuseExtensionBody,
    ReplyBody,
    RequestExtensionBody,
    SuperviseBody,
)
from petitions_api.deadlines import clocks
from petitions_api.deadlines import service as deadlines
from petitions_api.deadlines.clocks import ClockSpec
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.reference import service as reference
from petitions_api.reference.models import OrgUnit, UnitLevel


@handles(Action.REPLY, ReplyBody)
async def reply(ctx: Context, body: ReplyBody) -> Outcome:
    case = ctx.case
    met = await deadlines.meet_deadlines(ctx.session, case.id, HANDLING_KINDS, at=ctx.now)
    case.on_time = all(ctx.now <= d.due_at for d in met)
    # The reply answers the 督办 too (a unit's feedback to the supervisor comes with it).
    await deadlines.meet_deadlines(ctx.session, case.id, [DeadlineKind.SUPERVISION], at=ctx.now)
    case.reply_outcome = body.outcome
    case.replied_on = ctx.today
    unit = await ctx.session.get(OrgUnit, case.handling_unit_id) if case.handling_unit_id else None
    case.resolution_unit_id = unit.code if unit else None
    case.resolution_level = ResolutionLevel(unit.level.value) if unit else None
    case.grassroots = unit is not None and unit.level.value in ctx.settings.grassroots_levels
    return Outcome(
        [(contracts.CASE_REPLIED_V1, {"outcome": body.outcome})],
        details={"outcome": body.outcome.value, "reply": body.reply, "on_time": case.on_time},
    )


async def _extensible(ctx: Context, days: int) -> tuple[CaseDeadline, ClockSpec]:
    """The running handling clock and its spec, when its rule lets it be extended by
    ``days`` (deadlines/clocks.py)."""
    clock = await handling_clock(ctx)
    if clock is None:
        raise ctx.refuse("the case has no running handling clock to extend")
    rule = ctx.rule(clock.kind)
    extension = rule.extension
    if extension is None:
        raise ctx.refuse(f"the {rule.name} cannot be extended ({rule.basis})")
    spec = deadlines.spec_of(clock)
    if spec.day_count is not extension.day_count:
        raise ctx.refuse(
            f"this {rule.name} runs in {spec.day_count.value.replace('_', ' ')}; it is "
            f"extended in {extension.day_count.value.replace('_', ' ')} only"
        )
    if not 1 <= days <= extension.max_amount:
        unit = "working days" if extension.day_count is clocks.DayCount.WORKING_DAYS else "days"
        raise invalid(
            "days",
            "out of range",
            f"the {rule.name} is extended by 1 to {extension.max_amount} {unit} "
            f"({extension.basis})",
        )
    return clock, spec


async def _extend_by(ctx: Context, spec: ClockSpec, days: int, reason: str) -> Outcome:
    """Extend the running clock: counted from its start, with the length, and the end rolled
    past rest days like any period, never added to a date that was already rolled."""
    extended = await ctx.open_clock(replace(spec, extension=days))
    new_due_on = due_day(extended)
    ctx.case.extended = True
    return Outcome(
        [
            (
                contracts.CASE_EXTENDED_V1,
                {
                    "new_handling_due_on": new_due_on,
                    "reason": reason,
                    "approver": ctx.actor,  # the one who approves is the one who acts
                    "provisional": extended.provisional,
                },
            )
        ],
        details={
            "days": days,
            "approver": ctx.actor,
            "new_handling_due_on": new_due_on.isoformat(),
        },
    )


@handles(Action.EXTEND, ExtendBody)
async def extend(ctx: Context, body: ExtendBody) -> Outcome:
    """A 12345 ticket's extension, approved by the supervisor who takes the step."""
    _, spec = await _extensible(ctx, body.days)
    return await _extend_by(ctx, spec, body.days, body.reason)


@handles(Action.REQUEST_EXTENSION, RequestExtensionBody)
async def request_extension(ctx: Context, body: RequestExtensionBody) -> Outcome:
    """The handling unit asks, with reasons; the clock runs on until its head decides."""
    clock, _ = await _extensible(ctx, body.days)
    ctx.session.add(
        CaseRequest(
            case_id=ctx.case.id,
            kind=RequestKind.EXTENSION,
            unit_id=ctx.case.handling_unit_id,
            requested_by=ctx.actor,
            requested_at=ctx.now,
            reason=body.reason,
            days=body.days,
        )
    )
    return Outcome(
        [request_opened(RequestKind.EXTENSION, reason=body.reason, days=body.days)],
        details={"days": body.days, "requested": True, "handling_due_on": str(due_day(clock))},
    )


@handles(Action.APPROVE_EXTENSION, ApproveExtensionBody)
async def approve_extension(ctx: Context, body: ApproveExtensionBody) -> Outcome:
    request = await open_request(ctx, RequestKind.EXTENSION)
    days = body.days or request.days or 0
    if request.days is not None and days > request.days:
        raise invalid("days", "more than asked", f"the unit asked for {request.days} days")
    _, spec = await _extensible(ctx, days)
    notified_on = body.notice.given_on or ctx.today
    decided = decide(ctx, request, approved=True, reason=body.note)
    outcome = await _extend_by(ctx, spec, days, request.reason)
    outcome.events.insert(0, decided)
    outcome.details |= {
        "request_id": request.id,
        "requested_by": request.requested_by,
        "notified_on": notified_on.isoformat(),
        "notice_means": body.notice.means.value,
    }
    return outcome


@handles(Action.REFUSE_EXTENSION, RefuseExtensionBody)
async def refuse_extension(ctx: Context, body: RefuseExtensionBody) -> Outcome:
    request = await open_request(ctx, RequestKind.EXTENSION)
    decided = decide(ctx, request, approved=False, reason=body.reason)
    return Outcome([decided], details={"request_id": request.id, "days": request.days})


@handles(Action.SUPERVISE, SuperviseBody)
async def supervise(ctx: Context, body: SuperviseBody) -> Outcome:
    if body.due_on < ctx.today:
        raise invalid("due_on", "in the past", "a supervision due date is today or later")
    # The supervisor is whoever puts the case under supervision (督办), never a name sent.
    ctx.case.supervisor_id = ctx.actor
    ctx.case.supervision_due_on = body.due_on
    rule = ctx.rule(DeadlineKind.SUPERVISION)
    await ctx.open_clock(clocks.spec_for(rule, started_at=ctx.now, starts_on=body.due_on))
    return Outcome(
        [
            (
                contracts.CASE_SUPERVISED_V1,
                {"supervisor_id": ctx.actor, "due_on": body.due_on, "note": body.note},
            )
        ],
        details={"supervisor_id": ctx.actor, "due_on": body.due_on.isoformat()},
    )


_RANK = {UnitLevel.VILLAGE: 0, UnitLevel.TOWN: 1, UnitLevel.DEPARTMENT: 2, UnitLevel.DISTRICT: 3}


@handles(Action.ESCALATE, EscalateBody)
async def escalate(ctx: Context, body: EscalateBody) -> Outcome:
    case = ctx.case
    target = await reference.get_unit(ctx.session, body.to_unit_id, field="to_unit_id")
    current = (
        await ctx.session.get(OrgUnit, case.handling_unit_id) if case.handling_unit_id else None
    )
    if current is not None and _RANK[target.level] <= _RANK[current.level]:
        raise invalid(
            "to_unit_id",
            "not a higher level",
            f"{target.code} ({target.level.value}) is not above the current unit "
            f"{current.code} ({current.level.value}); escalate to a higher level",
        )
    await check_not_accused(ctx, target)
    await deadlines.cancel_deadlines(ctx.session, case.id, [DeadlineKind.RETURN], at=ctx.now)
    case.handling_unit_id = target.code
    return Outcome(
        [(contracts.CASE_ESCALATED_V1, {"to_unit_id": target.code, "reason": body.reason})],
        details={"from_unit_id": current.code if current else None, "to_unit_id": target.code},
    )


HANDLERS = (
    reply,
    extend,
    request_extension,
    approve_extension,
    refuse_extension,
    supervise,
    escalate,
)
