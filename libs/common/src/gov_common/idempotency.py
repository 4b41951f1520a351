"""``Idempotency-Key`` on creating POSTs: the same key and body from the same caller get the
same answer again, and create nothing more.

A service declares its table with :class:`IdempotencyKeyMixin` and, in a creating route::

    async def create() -> tuple[PlanRead, str]:
        plan = await service.create_plan(session, body)
        return PlanRead.model_validate(plan), f"/v1/plans/{plan.id}"

    guard = Idempotency(session, IdempotencyKey, request, principal, key, body, secret)
    return await guard.created(create, response)

Everything happens in the request's transaction: the claim inserts the key first, so a second
request with the same key waits on that row until the first commits (then replays its answer)
or rolls back (then proceeds itself); a crash leaves nothing behind. The request is fingerprinted
with an HMAC (method, path and canonical JSON body) under a service secret, so the stored hash
says nothing about bodies that carry personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.problems import ProblemError
from gov_common.security.principal import Principal

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="same key and body from the same caller → the same answer, created once",
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"
ModelT = TypeVar("ModelT", bound=BaseModel)


class IdempotencyKeyMixin:
    """Columns of an idempotency table: one row per (caller, key) of a creating request."""

    __tablename__: ClassVar[str] = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)  # the caller
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any] = mapped_column(JSONB, nullable=True)
    response_location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IdempotencyKeyReusedError(ProblemError):
    def __init__(self, key: str) -> None:
        super().__init__(
            422,
            f"Idempotency-Key {key!r} was already used for a different request; use a new key "
            "for a new request, or resend the original one unchanged",
            problem_type="idempotency-key-reused",
        )


def caller_scope(subject: str) -> str:
    """Keys are the caller's own; a long subject is hashed to fit the column."""
    if len(subject) <= 100:
        return subject
    return "sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def request_fingerprint(secret: bytes, method: str, path: str, body: BaseModel | None) -> str:
    canonical = orjson.dumps(
        [method, path, body.model_dump(mode="json") if body is not None else None],
        option=orjson.OPT_SORT_KEYS,
    )
    return hmac.new(secret, canonical, hashlib.sha256).hexdigest()


class Idempotency:
    """The idempotency of one creating request; without a key it does nothing."""

    def __init__(
        self,
        session: AsyncSession,
        model: type[IdempotencyKeyMixin],
        request: Request,
        principal: Principal,
        key: str | None,
        body: BaseModel | None,
        secret: bytes,
    ) -> None:
        self._session = session
        self._model = model
        self._key = key
        self._scope = caller_scope(principal.subject)
        self._digest = request_fingerprint(secret, request.method, request.url.path, body)

    async def replay(self) -> JSONResponse | None:
        """Claim the key for this request, or the earlier request's answer to send again."""
        if self._key is None:
            return None
        model = self._model
        claimed = await self._session.scalar(
            insert(model)
            .values(scope=self._scope, key=self._key, request_hash=self._digest)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(model.key)
        )
        if claimed is not None:
            return None
        earlier = await self._session.get(model, (self._scope, self._key))
        if earlier is None or earlier.request_hash != self._digest:
            raise IdempotencyKeyReusedError(self._key)
        headers = {REPLAYED_HEADER: "true"}
        if earlier.response_location:
            headers["Location"] = earlier.response_location
        return JSONResponse(
            earlier.response_body, status_code=earlier.response_status or 200, headers=headers
        )

    async def created(
        self, create: Callable[[], Awaitable[tuple[ModelT, str]]], response: Response
    ) -> ModelT | Response:
        """The answer of a creating route: the earlier one again, or what ``create`` makes
        (its view and its URL), remembered under the key and answered 201 with ``Location``."""
        if (replay := await self.replay()) is not None:
            return replay
        view, location = await create()
        response.headers["Location"] = location
        await self.remember(201, view, location=location)
        return view

    async def remember(self, status: int, body: BaseModel, *, location: str | None = None) -> None:
        """Keep the answer, in the same transaction as what the request created."""
        if self._key is None:
            return
        record = await self._session.get(self._model, (self._scope, self._key))
        assert record is not None, "remember() without a successful replay() claim"
        record.response_status = status
        record.response_body = body.model_dump(mode="json")
        record.response_location = location
