"""What every step of the lifecycle shares: its context, its outcome, its refusal, its
timeline entry, and the typed table of handlers (:class:`Handler`, :func:`handles`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.events.petitions import DeadlineKind
from gov_common.problems import ProblemError
from petitions_api.cases import authority
from petitions_api.cases.lifecycle import Action, CaseStatus, ReviewStage
from petitions_api.cases.models import Case, TimelineEntry
from petitions_api.cases.schemas import ACTION_BODIES, ActionBody
from petitions_api.config import Settings
from petitions_api.deadlines import clocks
from petitions_api.deadlines import service as deadlines
from petitions_api.deadlines.calendar.working import WorkingCalendar
from petitions_api.deadlines.clocks import ClockRule, ClockSpec
from petitions_api.deadlines.days import china_date
from petitions_api.deadlines.models import CaseDeadline

# The clocks a reply meets: the handling clock of each kind of case (deadlines/clocks.py).
HANDLING_KINDS = [
    DeadlineKind.HANDLING,
    DeadlineKind.HOTLINE,
    DeadlineKind.REVIEW,
    DeadlineKind.RE_REVIEW,
]
REVIEW_CLOCK = {
    ReviewStage.REVIEW: DeadlineKind.REVIEW,
    ReviewStage.RE_REVIEW: DeadlineKind.RE_REVIEW,
}


class ActionRefused(ProblemError):  # noqa: N818
    """409 naming the steps the caller may take instead."""

    def __init__(
        self,
        detail: str,
        status: CaseStatus,
        *,
        problem_type: str,
        allowed: list[Action],
    ) -> None:
        super().__init__(
            409,
            detail,
            problem_type=problem_type,
            extra={"status_of_case": status.value, "allowed_actions": [a.value for a in allowed]},
        )


def invalid(name: str, reason: str, detail: str) -> ProblemError:
    """422 naming the field of the body that is wrong."""
    return ProblemError(
        422,
        f"{name}: {detail}",
        problem_type="validation-error",
        extra={"invalid_params": [{"name": name, "reason": reason}]},
    )


def record(
    session: AsyncSession,
    case: Case,
    *,
    action: str,
    from_status: CaseStatus | None,
    actor: str | None,
    at: datetime,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        TimelineEntry(
            case_id=case.id,
            action=action,
            from_status=from_status.value if from_status else None,
            to_status=case.status.value,
            actor=actor,
            reason=reason,
            details={k: v for k, v in (details or {}).items() if v is not None},
            occurred_at=at,
        )
    )


async def check_acts_here(session: AsyncSession, case: Case, scope: str | None) -> None:
    """A caller who sees the case only because its place lies in its area (属地) may not act
    on it: the handling unit does (``authority``, 《信访工作条例》第二十二条)."""
    if await authority.may_act_on(session, case, scope):
        return
    raise ActionRefused(
        f"the case is handled by {authority.acting_unit(case)}, outside {scope}: "
        "you see it because its place lies in your area (属地); its handling unit acts on it",
        case.status,
        problem_type="not-the-handling-unit",
        allowed=[],
    )


@dataclass
class Context:
    """One step being taken: the case (locked), who takes it, when, on which calendar, and
    the caller's refusal list should a handler refuse (``refuse``)."""

    session: AsyncSession
    settings: Settings
    case: Case
    actor: str
    now: datetime
    today: date
    calendar: WorkingCalendar
    allowed: list[Action] = field(default_factory=list)

    def rule(self, kind: DeadlineKind) -> ClockRule:
        return clocks.rule_for(self.settings, kind, self.case.kind)

    async def open_clock(self, spec: ClockSpec) -> CaseDeadline:
        return await deadlines.open_deadline(
            self.session, self.case.id, spec, self.calendar, at=self.now
        )

    def refuse(self, detail: str) -> ActionRefused:
        return ActionRefused(
            detail, self.case.status, problem_type="action-refused", allowed=self.allowed
        )


@dataclass
class Outcome:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    created: Case | None = None


B = TypeVar("B", bound=ActionBody)


@dataclass(frozen=True)
class Handler(Generic[B]):
    """The handler of one action and the body it takes (``schemas.ACTION_BODIES``)."""

    action: Action
    body: type[B]
    run: Callable[[Context, B], Awaitable[Outcome]]

    async def __call__(self, ctx: Context, body: ActionBody) -> Outcome:
        # The route validated the body with ACTION_BODIES[action]; a caller inside the
        # service passing another type is a programming error.
        if not isinstance(body, self.body):
            raise TypeError(f"{self.action.value} takes {self.body.__name__}, not {type(body)}")
        return await self.run(ctx, body)


def handles(
    action: Action, body: type[B]
) -> Callable[[Callable[[Context, B], Awaitable[Outcome]]], Handler[B]]:
    """Declare ``run`` the handler of ``action``, taking ``body`` (checked against the table
    the routes are generated from, so the two cannot drift)."""
    if ACTION_BODIES[action] is not body:
        raise TypeError(f"{action.value}'s body is {ACTION_BODIES[action].__name__}")

    def register(run: Callable[[Context, B], Awaitable[Outcome]]) -> Handler[B]:
        return Handler(action, body, run)

    return register


async def handling_clock(ctx: Context) -> CaseDeadline | None:
    open_ = await deadlines.open_deadlines(ctx.session, ctx.case.id, HANDLING_KINDS)
    return open_[-1] if open_ else None


def due_day(clock: CaseDeadline) -> date:
    return clock.due_on or china_date(clock.due_at)
