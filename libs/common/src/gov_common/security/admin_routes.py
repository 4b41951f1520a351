"""Admin routes every service that stores API keys or personal data mounts: API keys
(create, list, revoke) and the personal-data access log (query)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert, select, update

from gov_common.app import SessionDep
from gov_common.pagination import Page, decode_cursor, encode_cursor
from gov_common.problems import PROBLEM_RESPONSES, NotFoundError
from gov_common.security.api_keys import ApiKeyMixin, new_api_key
from gov_common.security.audit import PersonalDataAccessMixin
from gov_common.security.principal import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="who holds it, e.g. 市12345平台")
    roles: list[Role] = Field(min_length=1)
    org_unit: str | None = Field(default=None, max_length=64)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    roles: list[Role]
    org_unit: str | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="shown once; store it now")


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    roles: list[str]
    action: str
    resource_type: str
    resource_id: str
    fields: list[str]
    request_id: str | None


def api_key_router(model: type[ApiKeyMixin]) -> APIRouter:
    router = APIRouter(prefix="/v1/api-keys", tags=["admin"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=status.HTTP_201_CREATED, summary="Create an API key")
    async def create(body: ApiKeyCreate, session: SessionDep) -> ApiKeyCreated:
        key_id, full_key, secret_hash = new_api_key()
        row = await session.scalar(
            insert(model)
            .values(
                id=key_id,
                secret_sha256=secret_hash,
                name=body.name,
                roles=[r.value for r in body.roles],
                org_unit=body.org_unit,
            )
            .returning(model)
        )
        return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=full_key)

    @router.get("", summary="List API keys (never their secrets)")
    async def list_keys(session: SessionDep) -> list[ApiKeyRead]:
        rows = await session.scalars(select(model).order_by(model.created_at))
        return [ApiKeyRead.model_validate(r) for r in rows]

    @router.delete("/{key_id}", summary="Revoke an API key")
    async def revoke(key_id: str, session: SessionDep) -> ApiKeyRead:
        row = await session.scalar(
            update(model)
            .where(model.id == key_id, model.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
            .returning(model)
        )
        if row is None:
            existing = await session.get(model, key_id)
            if existing is None:
                raise NotFoundError("API key", key_id)
            row = existing
        return ApiKeyRead.model_validate(row)

    return router


def access_log_router(model: type[PersonalDataAccessMixin]) -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["admin"], responses=PROBLEM_RESPONSES)

    @router.get("/personal-data-access", summary="Who read which personal data, newest first")
    async def query(
        session: SessionDep,
        actor: Annotated[str | None, Query(max_length=200)] = None,
        resource_id: Annotated[str | None, Query(max_length=200)] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Page[AccessLogEntry]:
        statement = select(model).order_by(model.id.desc())
        if actor is not None:
            statement = statement.where(model.actor == actor)
        if resource_id is not None:
            statement = statement.where(model.resource_id == resource_id)
        if since is not None:
            statement = statement.where(model.at >= since)
        if until is not None:
            statement = statement.where(model.at < until)
        if cursor is not None:
            (last_id,) = decode_cursor(cursor, int)
            statement = statement.where(model.id < last_id)
        rows = list((await session.scalars(statement.limit(limit + 1))).all())
        next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
        return Page[AccessLogEntry](
            items=[AccessLogEntry.model_validate(r) for r in rows[:limit]], next_cursor=next_cursor
        )

    return router
