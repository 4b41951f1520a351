"""HTTP routes for cases."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from gov_common.app import SessionDep
from gov_common.problems import PROBLEM_RESPONSES
from petitions_api.cases import service
from petitions_api.cases.schemas import CaseCreate, CaseRead

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Register a ticket or petition case")
async def create_case(
    body: CaseCreate, session: SessionDep, request: Request, response: Response
) -> CaseRead:
    case = await service.register_case(session, body, settings=request.app.state.settings)
    response.headers["Location"] = f"/v1/cases/{case.id}"
    return CaseRead.model_validate(case)


@router.get("/{case_id}", summary="Read one case")
async def read_case(case_id: UUID, session: SessionDep) -> CaseRead:
    return CaseRead.model_validate(await service.get_case(session, case_id))
