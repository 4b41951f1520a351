"""The events a case publishes (contracts in gov_common.events)."""

from __future__ import annotations

from gov_common.events import CloudEvent, new_event
from gov_common.events.petitions import CaseCreatedV1
from petitions_api.cases.models import Case

CASE_CREATED = "gov.petitions.case.created.v1"


def case_created(case: Case, *, source: str) -> CloudEvent:
    return new_event(
        source=source,
        type=CASE_CREATED,
        subject=str(case.id),
        data=CaseCreatedV1(
            case_id=case.id,
            case_number=case.case_number,
            kind=case.kind,
            channel=case.channel,
            subject=case.subject,
            received_on=case.received_on,
            created_at=case.created_at,
        ),
    )
