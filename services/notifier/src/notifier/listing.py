"""Newest-first cursor pages over a model with ``created_at`` and ``id`` (gov_common cursors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.pagination import decode_cursor, encode_cursor

RowT = TypeVar("RowT")


async def newest_first(
    session: AsyncSession, query: Select[Any], model: type[RowT], *, limit: int, cursor: str | None
) -> tuple[list[RowT], str | None]:
    query = query.order_by(model.created_at.desc(), model.id.desc())  # type: ignore[attr-defined]
    if cursor is not None:
        key = decode_cursor(cursor, datetime, UUID)
        query = query.where(tuple_(model.created_at, model.id) < key)  # type: ignore[attr-defined]
    rows: list[RowT] = list((await session.scalars(query.limit(limit + 1))).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])  # type: ignore[attr-defined]
    return rows, next_cursor
