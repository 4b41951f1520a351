"""After the reply: rating (回访), closing (办结), reopening (重办), 复查/复核 requests.

A 复查 request goes to the organ one level above the one that replied (上一级行政机关,
《信访工作条例》第三十五条), a 复核 request to the one above that (第三十六条) — read from the
org tree: the reviewing organ is the parent of the unit that gave the reply under review. Each
runs its own 30-day clock from the day the request arrived.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events import petitions as contracts
from gov_common.events.petitions import CaseKind, DeadlineKind, ResolutionLevel
from petitions_api.cases import events, petitioners
from petitions_api.cases.actions.base import (
    REVIEW_CLOCK,
    Context,
    Outcome,
    handles,
    record,
)
from petitions_api.cases.lifecycle import Action, CaseStatus, ReviewStage, next_review_stage
from petitions_api.cases.models import Case, Petitioner, case_number_seq
from petitions_api.cases.personal_data import Protector
from petitions_api.cases.registration import (
    EFFECTIVE_RATINGS,
    GRASSROOTS_DEFINITION_VERSION,
    format_case_number,
    hotline_spec,
)
from petitions_api.cases.schemas import CloseBody, RateBody, ReopenBody, RequestReviewBody
from petitions_api.deadlines import clocks
from petitions_api.deadlines import service as deadlines
from petitions_api.reference import service as reference
from petitions_api.reference.models import OrgUnit


async def reviewing_organ(ctx: Context, stage: ReviewStage) -> OrgUnit:
    """The organ above the unit that replied to the case under review."""
    case = ctx.case
    label = "复查" if stage is ReviewStage.REVIEW else "复核"
    replied_by = case.resolution_unit_id or case.handling_unit_id
    unit = await ctx.session.get(OrgUnit, replied_by) if replied_by else None
    if unit is None:
        raise ctx.refuse(f"the case names no unit that replied: its {label} cannot be routed")
    above = await ctx.session.get(OrgUnit, unit.parent_code) if unit.parent_code else None
    if above is None:
        raise ctx.refuse(
            f"{unit.name} replied: the organ above it (上一级行政机关) is outside this "
            f"district's system; the petitioner asks it for the {label} directly"
        )
    return above


@handles(Action.RATE, RateBody)
async def rate(ctx: Context, body: RateBody) -> Outcome:
    ctx.case.rating = body.rating
    return Outcome(details={"rating": body.rating.value})


@handles(Action.CLOSE, CloseBody)
async def close(ctx: Context, body: CloseBody) -> Outcome:
    case = ctx.case
    case.closed_on = ctx.today
    case.resolved_on = ctx.today
    case.effective = case.rating in EFFECTIVE_RATINGS
    await deadlines.cancel_deadlines(ctx.session, case.id, None, at=ctx.now)
    if case.review_stage is ReviewStage.RE_REVIEW:
        await _mark_final(ctx.session, case)
    resolved: dict[str, Any] = {
        "resolved_on": ctx.today,
        "resolution_unit_id": case.resolution_unit_id or "",
        "resolution_level": case.resolution_level or ResolutionLevel.DISTRICT,
        "grassroots": bool(case.grassroots),
        "effective": case.effective,
        "town_unit_id": case.town_unit_id,
        "definition_version": GRASSROOTS_DEFINITION_VERSION,
    }
    return Outcome(
        [
            (contracts.CASE_RESOLVED_V1, resolved),
            (contracts.CASE_CLOSED_V1, {"closed_on": ctx.today, "rating": case.rating}),
        ],
        details={"effective": case.effective, "grassroots": case.grassroots},
    )


async def _mark_final(session: AsyncSession, case: Case) -> None:
    """Concluded by 复核: flag the whole chain so the same matter is not accepted again."""
    current: Case | None = case
    while current is not None:
        current.final = True
        current = (
            await session.get(Case, current.parent_case_id) if current.parent_case_id else None
        )


@handles(Action.REOPEN, ReopenBody)
async def reopen(ctx: Context, body: ReopenBody) -> Outcome:
    case = ctx.case
    previous = {
        "rating": case.rating.value if case.rating else None,
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
    }
    for name in (
        "closed_on",
        "resolved_on",
        "effective",
        "rating",
        "reply_outcome",
        "replied_on",
        "on_time",
    ):
        setattr(case, name, None)
    # The clock starts again from today: a 信访 case's handling (or its 复查/复核) period,
    # a ticket's tier.
    if case.kind is CaseKind.PETITION_CASE:
        kind = REVIEW_CLOCK.get(case.review_stage, DeadlineKind.HANDLING)
        spec = clocks.spec_for(ctx.rule(kind), started_at=ctx.now, starts_on=ctx.today)
    else:
        category = (
            await reference.get_category(ctx.session, case.category_code)
            if case.category_code
            else None
        )
        spec = await hotline_spec(ctx.session, ctx.settings, case, category, now=ctx.now)
    await ctx.open_clock(spec)
    return Outcome([(contracts.CASE_REOPENED_V1, {"reason": body.reason})], details=previous)


@handles(Action.REQUEST_REVIEW, RequestReviewBody)
async def request_review(ctx: Context, body: RequestReviewBody) -> Outcome:
    case = ctx.case
    stage = next_review_stage(case.review_stage)
    requested_on = body.requested_on or ctx.today
    petitioner = await ctx.session.get(Petitioner, case.id)
    sequence = await ctx.session.scalar(case_number_seq.next_value())
    assert sequence is not None
    label = "复查" if stage is ReviewStage.REVIEW else "复核"
    reviewer = await reviewing_organ(ctx, stage)
    received_reply_on = body.reply_received_on or case.replied_on
    review = Case(
        id=uuid.uuid4(),
        case_number=format_case_number(case.kind.value, requested_on, sequence),
        kind=case.kind,
        channel=case.channel,
        subject=f"{label}：{case.subject}"[:200],
        description=body.reason,
        received_on=requested_on,
        status=CaseStatus.REGISTERED,
        version=1,
        category_code=case.category_code,
        place_unit_id=case.place_unit_id,
        place_address=case.place_address,
        latitude=case.latitude,
        longitude=case.longitude,
        town_unit_id=case.town_unit_id,
        handling_unit_id=reviewer.code,
        accused_unit_id=case.accused_unit_id,
        urgent=case.urgent,
        group_size=case.group_size,
        attachments=[],
        source_client=case.source_client,
        first_time=False,
        repeat_of=None,
        repeat_confirmed=False,
        parent_case_id=case.id,
        review_stage=stage,
        review_requested=False,
        final=False,
        extended=False,
    )
    ctx.session.add(review)
    await ctx.session.flush()
    if petitioner is not None:
        # Ciphertexts are bound to their row: re-seal for the review case, never copy.
        personal = petitioners.open_petitioner(petitioner, ctx.settings)
        sealed = Protector.from_settings(ctx.settings).seal(review.id, personal)
        ctx.session.add(Petitioner(case_id=review.id, **vars(sealed)))
    rule = clocks.rule_for(ctx.settings, REVIEW_CLOCK[stage], review.kind)
    await deadlines.open_deadline(
        ctx.session,
        review.id,
        clocks.spec_for(rule, started_at=ctx.now, starts_on=requested_on),
        ctx.calendar,
    )
    record(
        ctx.session,
        review,
        action="register",
        from_status=None,
        actor=ctx.actor,
        at=ctx.now,
        reason=body.reason,
        details={
            "review_of": str(case.id),
            "review_stage": stage.value,
            "reviewing_unit_id": reviewer.code,
            "reply_received_on": received_reply_on.isoformat() if received_reply_on else None,
            "requested_on": requested_on.isoformat(),
        },
    )
    await ctx.session.flush()
    await ctx.session.refresh(review)
    await events.publish(
        ctx.session,
        ctx.settings,
        review,
        events.case_created(review, source=ctx.settings.event_source),
    )
    case.review_requested = True
    return Outcome(
        details={
            "reviewing_unit_id": reviewer.code,
            "review_case_id": str(review.id),
            "review_stage": stage.value,
            "requested_on": requested_on.isoformat(),
        },
        created=review,
    )


HANDLERS = (rate, close, reopen, request_review)
