"""What each figure counts, explicit and versioned.

A definition names its population (which cases are counted), the day that places a case in a
period, and its numerator. When any of that changes, the version changes: a figure always
says which definition produced it, and ``case.resolved`` events carry the grassroots version.
The descriptions below are served at ``GET /v1/metrics`` and in the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, literal_column
from sqlalchemy.orm import InstrumentedAttribute

from gov_common.events.petitions import CaseKind, DeadlineKind, Rating
from petitions_api.cases.lifecycle import ReviewStage
from petitions_api.cases.models import Case
from petitions_api.cases.registration import GRASSROOTS_DEFINITION_VERSION
from petitions_api.config import Settings
from petitions_api.deadlines.models import CaseDeadline

# Statutory clocks whose lapse makes an open 信访 case a backlog case (积案).
STATUTORY_CLOCKS = (
    DeadlineKind.FORWARDING,
    DeadlineKind.ACCEPTANCE,
    DeadlineKind.HANDLING,
    DeadlineKind.REVIEW,
    DeadlineKind.RE_REVIEW,
)


@dataclass(frozen=True)
class Context:
    settings: Settings
    as_of: datetime


@dataclass(frozen=True)
class NumeratorPart:
    """Cases matching ``condition`` add ``weight`` each to the numerator."""

    name: str
    condition: ColumnElement[bool]
    weight: float = 1.0


@dataclass(frozen=True)
class MetricDefinition:
    id: str
    version: str
    title: str
    description: str
    # The case's day that places it in a period; None: a snapshot at the time of asking.
    period_basis: InstrumentedAttribute[object] | None
    period_required: bool
    # The kinds counted when the caller does not choose; ``kind_fixed``: the caller cannot.
    default_kind: CaseKind | None
    kind_fixed: bool
    population: Callable[[Context], list[ColumnElement[bool]]]
    numerator: Callable[[Context], list[NumeratorPart]]
    breakdown_by_town: bool = False
    has_target: bool = False
    extra_columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def basis_name(self) -> str | None:
        return self.period_basis.key if self.period_basis is not None else None


# Status tests are written as SQL literals, identical to the partial indexes' predicates
# (metrics/models.py), so the planner can use those indexes even with a generic plan.
def _closed() -> ColumnElement[bool]:
    return Case.status == literal_column("'closed'")


def _open() -> ColumnElement[bool]:
    return Case.status.not_in([literal_column("'closed'"), literal_column("'declined'")])


def _original() -> ColumnElement[bool]:
    # 复查/复核 cases are reviews of a matter already counted, not new matters.
    return Case.review_stage == ReviewStage.ORIGINAL


def _not_declined() -> ColumnElement[bool]:
    return Case.status != literal_column("'declined'")


GRASSROOTS = MetricDefinition(
    id="first-time-grassroots-resolution",
    version=GRASSROOTS_DEFINITION_VERSION,
    title="初信初访基层有效化解率 — first-time petitions resolved effectively at the grassroots",
    description="""\
**Definition `grassroots-v1`** (the district's promise: at least 80%).

* **First-time (初信初访)**: a 信访 petition case (`kind = petition_case`), not a 复查/复核
  review case (`review_stage = original`), and not linked as a repeat of an earlier case of the
  same petitioner and matter (`first_time = true`; operators may confirm or unlink a detected
  repeat, and the figure follows). 12345 hotline tickets are not petitions and are not counted.
* **Concluded in the period**: the case is closed (办结, `status = closed`) and its closing day
  (`closed_on`, Asia/Shanghai) lies in the period. A case reopened after a dissatisfied rating is
  not concluded until it is closed again, and then counts in the period of that closing.
  Declined cases (不予受理) are not concluded.
* **Effective**: the call-back rating (回访评价) was *satisfied* or *basically satisfied*. A case
  closed without a rating (the petitioner could not be reached) or rated dissatisfied is not
  effective.
* **At the grassroots**: the unit that gave the reply was at a grassroots level — the levels in
  `PETITIONS_GRASSROOTS_LEVELS` at the time of the reply, by default town/sub-district (镇办) and
  village/community (村/社区). Cases escalated to and answered by the district or a district
  department are not grassroots.
* **Rate** = concluded first-time cases that are effective *and* grassroots ÷ concluded
  first-time cases. The per-town breakdown groups by the town/sub-district of the case's place.
""",
    period_basis=Case.closed_on,
    period_required=True,
    default_kind=CaseKind.PETITION_CASE,
    kind_fixed=True,
    population=lambda ctx: [_closed(), _original(), Case.first_time.is_(True)],
    numerator=lambda ctx: [
        NumeratorPart(
            "effective_at_grassroots",
            and_(Case.effective.is_(True), Case.grassroots.is_(True)),
        )
    ],
    breakdown_by_town=True,
    has_target=True,
)

RESPONSE = MetricDefinition(
    id="response",
    version="response-v1",
    title="响应率 — response rate",
    description="""\
**Definition `response-v1`.** Of the cases received in the period (`received_on`), not
declined and not 复查/复核 reviews, the share that a handling unit has taken (签收) —
`responded_at` is the first time any unit took the case. 12345 hotline tickets by default
(`kind`). A recent period's rate grows as units take its cases.
""",
    period_basis=Case.received_on,
    period_required=True,
    default_kind=CaseKind.HOTLINE_TICKET,
    kind_fixed=False,
    population=lambda ctx: [_original(), _not_declined()],
    numerator=lambda ctx: [NumeratorPart("taken", Case.responded_at.is_not(None))],
)

RESOLUTION = MetricDefinition(
    id="resolution",
    version="resolution-v1",
    title="办结率 — resolution rate",
    description="""\
**Definition `resolution-v1`.** Of the cases received in the period (`received_on`), not
declined and not 复查/复核 reviews, the share that are closed (办结, `status = closed`) at the
time of asking; a reopened case is not closed. 12345 hotline tickets by default (`kind`).
""",
    period_basis=Case.received_on,
    period_required=True,
    default_kind=CaseKind.HOTLINE_TICKET,
    kind_fixed=False,
    population=lambda ctx: [_original(), _not_declined()],
    numerator=lambda ctx: [NumeratorPart("closed", _closed())],
)

SATISFACTION = MetricDefinition(
    id="satisfaction",
    version="satisfaction-v1",
    title="满意率 — satisfaction rate",
    description="""\
**Definition `satisfaction-v1`.** Of the cases closed in the period (`closed_on`) that have a
call-back rating (回访评价), satisfied count 1 and basically satisfied (基本满意) count
`PETITIONS_BASIC_SATISFACTION_WEIGHT` (0–1, default 1.0; the weight used is in `components`);
dissatisfied count 0. Cases closed without a rating are not counted. 12345 hotline tickets by
default (`kind`).
""",
    period_basis=Case.closed_on,
    period_required=True,
    default_kind=CaseKind.HOTLINE_TICKET,
    kind_fixed=False,
    population=lambda ctx: [_closed(), Case.rating.is_not(None)],
    numerator=lambda ctx: [
        NumeratorPart("satisfied", Case.rating == Rating.SATISFIED),
        NumeratorPart(
            "basically_satisfied",
            Case.rating == Rating.BASICALLY_SATISFIED,
            ctx.settings.basic_satisfaction_weight,
        ),
    ],
)

ON_TIME = MetricDefinition(
    id="on-time",
    version="on-time-v1",
    title="按期办结率 — on-time rate",
    description="""\
**Definition `on-time-v1`.** Of the cases closed in the period (`closed_on`) whose reply was
measured against a handling clock (`on_time` known), the share replied (答复) before every
running handling clock fell due (12345 tier, 60-day handling with its extension, 30-day
复查/复核). 12345 hotline tickets by default (`kind`).
""",
    period_basis=Case.closed_on,
    period_required=True,
    default_kind=CaseKind.HOTLINE_TICKET,
    kind_fixed=False,
    population=lambda ctx: [_closed(), Case.on_time.is_not(None)],
    numerator=lambda ctx: [NumeratorPart("on_time", Case.on_time.is_(True))],
)

REPEAT = MetricDefinition(
    id="repeat",
    version="repeat-v1",
    title="重复信访率 — repeat rate",
    description="""\
**Definition `repeat-v1`.** Of the cases received in the period (`received_on`), 复查/复核
reviews excluded (declined cases included: a repeat is a repeat whatever became of it), the
share linked as a repeat of an earlier case of the same petitioner and matter
(`first_time = false`). Both kinds by default (`kind`).
""",
    period_basis=Case.received_on,
    period_required=True,
    default_kind=None,
    kind_fixed=False,
    population=lambda ctx: [_original()],
    numerator=lambda ctx: [NumeratorPart("repeat", Case.first_time.is_(False))],
)


def _overdue(ctx: Context) -> ColumnElement[bool]:
    return exists().where(
        CaseDeadline.case_id == Case.id,
        CaseDeadline.met_at.is_(None),
        CaseDeadline.cancelled_at.is_(None),
        CaseDeadline.kind.in_(STATUTORY_CLOCKS),
        CaseDeadline.due_at < ctx.as_of,
    )


BACKLOG = MetricDefinition(
    id="backlog",
    version="backlog-v1",
    title="信访积案 — backlog",
    description="""\
**Definition `backlog-v1`.** A snapshot at the time of asking (`as_of`). The backlog (信访积案)
is the number of open 信访 petition cases (not closed, not declined; reviews included) with a
statutory clock past due and not met: acceptance (15 days), handling (60 days plus the
extension) or 复查/复核 (30 days). The denominator is every open petition case, the rate the
backlog's share of them. With a period, only cases received in it are looked at.
""",
    period_basis=Case.received_on,
    period_required=False,
    default_kind=CaseKind.PETITION_CASE,
    kind_fixed=True,
    population=lambda ctx: [_open()],
    numerator=lambda ctx: [NumeratorPart("overdue", _overdue(ctx))],
)

DEFINITIONS: dict[str, MetricDefinition] = {
    d.id: d for d in (GRASSROOTS, RESPONSE, RESOLUTION, SATISFACTION, ON_TIME, REPEAT, BACKLOG)
}
