"""HTTP routes for indicators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from gov_common.app import SessionDep
from gov_common.pagination import Page, decode_cursor, encode_cursor
from gov_common.problems import PROBLEM_RESPONSES
from targets_api.indicators.models import Indicator
from targets_api.indicators.schemas import IndicatorRead

router = APIRouter(prefix="/v1/indicators", tags=["indicators"], responses=PROBLEM_RESPONSES)


@router.get("", summary="List indicators by code")
async def list_indicators(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[IndicatorRead]:
    query = select(Indicator).order_by(Indicator.code)
    if cursor is not None:
        (last_code,) = decode_cursor(cursor, size=1)
        query = query.where(Indicator.code > str(last_code))
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].code])
    return Page[IndicatorRead](
        items=[IndicatorRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )
