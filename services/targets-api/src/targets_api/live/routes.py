"""HTTP routes for live figures."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from gov_common.app import SessionDep
from targets_api.live import service

router = APIRouter(prefix="/v1/live", tags=["live indicators"])


class CaseEventCounts(BaseModel):
    counts: dict[str, int]


@router.get("/case-events", summary="How many case events of each type were consumed")
async def case_event_counts(session: SessionDep) -> CaseEventCounts:
    return CaseEventCounts(counts=await service.case_event_counts(session))
