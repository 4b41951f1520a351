"""``Idempotency-Key`` on creating POSTs: the same key and body from the same caller get the
same answer again, and create nothing more.

A service declares its table with :class:`IdempotencyKeyMixin` and, in a creating route::

    async def create() -> tuple[PlanRead, str]:
        plan = await service.create_plan(session, body)
        return PlanRead.model_validate(plan), f"/v1/plans/{plan.id}"

    guard = Idempotency(session, IdempotencyKey, request, principal, key, body, secret)
    return await guard.created(create, response)

A route that must do more in the claim's round trip (petitions draws the case number and reads
the repeat candidates with it) builds on :func:`claim_statement` and :attr:`Idempotency.params`,
then asks :meth:`Idempotency.earlier` for the earlier request when its claim returned no row.

Everything happens in the request's transaction: the claim inserts the key first, so a second
request with the same key waits on that row until the first commits (then replays its answer)
or rolls back (then proceeds itself); a crash leaves nothing behind. The request is fingerprinted
with an HMAC (method, path and canonical JSON body) under a service secret, so the stored hash
says nothing about bodies that carry personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Annotated, Any, ClassVar, TypeVar

import orjson
from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import DateTime, Integer, String, bindparam, func
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.preconditions import etag
from gov_common.problems import ProblemError
from gov_common.security.crypto import parse_index_keys
from gov_common.security.principal import Principal
from gov_common.settings import ServiceSettings

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


def caller_scope(subject: str, namespace: str = "") -> str:
    """Keys are the caller's own; a long subject is hashed to fit the column. ``namespace``
    prefixes it (a table shared by several routes, or one that was prefixed before)."""
    if len(namespace) + len(subject) <= 100:
        return namespace + subject
    return namespace + "sha256:" + hashlib.sha256(subject.encode()).hexdigest()


def claim_statement(model: type[IdempotencyKeyMixin]) -> Insert:
    """The claim of a key: an INSERT with bind parameters ``scope``, ``key`` and
    ``request_hash`` (:attr:`Idempotency.params`) that does nothing when the key was claimed
    before. Add ``.returning(...)``: a row back means this request holds the key, none that an
    earlier one did. A route may use it as a CTE to fuse the claim with reads of its own."""
    return (
        insert(model)
        .values(
            scope=bindparam("scope"), key=bindparam("key"), request_hash=bindparam("request_hash")
        )
        .on_conflict_do_nothing(index_elements=["scope", "key"])
    )


def request_fingerprint(secret: bytes, method: str, path: str, body: BaseModel | None) -> str:
    canonical = orjson.dumps(
        [method, path, body.model_dump(mode="json") if body is not None else None],
        option=orjson.OPT_SORT_KEYS,
    )
    return hmac.new(secret, canonical, hashlib.sha256).hexdigest()


def guard_for(
    session: AsyncSession,
    model: type[IdempotencyKeyMixin],
    request: Request,
    principal: Principal,
    key: str | None,
    body: BaseModel | None,
    *,
    namespace: str = "",
    also_accept: Callable[[], Iterable[str]] | None = None,
) -> Idempotency:
    """The guard of a creating route of a service: its fingerprints are keyed with the
    service's blind-index key (``GOV_PII_INDEX_KEY``: bodies may hold personal data), and while
    that key is rotated, digests under ``GOV_PII_PREVIOUS_INDEX_KEYS`` still replay."""
    settings: ServiceSettings = request.app.state.settings
    previous = settings.pii_previous_index_keys
    return Idempotency(
        session,
        model,
        request,
        principal,
        key,
        body,
        settings.pii_index_key.get_secret_value().encode(),
        namespace=namespace,
        previous_secrets=parse_index_keys(previous.get_secret_value()).values() if previous else (),
        also_accept=also_accept,
    )


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
        *,
        namespace: str = "",
        previous_secrets: Iterable[bytes] = (),
        also_accept: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """A retry of a request claimed before the secret was rotated still replays: its
        digest under each of ``previous_secrets`` is accepted too; so are the digests
        ``also_accept`` gives (an older fingerprint scheme of the service). Both are computed
        only when the stored digest differs from this one."""
        self._session = session
        self._model = model
        self.key = key
        self.scope = caller_scope(principal.subject, namespace)
        self._request = (request.method, request.url.path, body)
        self._digest = request_fingerprint(secret, *self._request)
        self._previous_secrets = tuple(previous_secrets)
        self._also_accept = also_accept

    def _older_digests(self) -> set[str]:
        older = {request_fingerprint(s, *self._request) for s in self._previous_secrets}
        if self._also_accept is not None:
            older.update(self._also_accept())
        return older

    @property
    def params(self) -> dict[str, Any]:
        """The bind parameters of :func:`claim_statement` for this request."""
        return {"scope": self.scope, "key": self.key, "request_hash": self._digest}

    async def replay(self, *, versioned: bool = False) -> JSONResponse | None:
        """Claim the key for this request, or the earlier request's answer to send again;
        ``versioned``: that answer has a ``version``, sent again as its ``ETag``."""
        if self.key is None:
            return None
        model = self._model
        claimed = await self._session.scalar(
            claim_statement(model).returning(model.key), self.params
        )
        if claimed is not None:
            return None
        earlier = await self.earlier()
        version = (earlier.response_body or {}).get("version") if versioned else None
        headers = {"ETag": etag(version)} if isinstance(version, int) else None
        return self.replay_response(earlier, headers)

    async def earlier(self) -> Any:
        """The row of the earlier request that claimed this key (an instance of the model),
        after a claim of this request returned no row; a different request under the same key
        is a problem (422)."""
        assert self.key is not None
        earlier = await self._session.get(self._model, (self.scope, self.key))
        if earlier is None:
            raise IdempotencyKeyReusedError(self.key)
        if earlier.request_hash != self._digest and earlier.request_hash not in (
            self._older_digests()
        ):
            raise IdempotencyKeyReusedError(self.key)
        return earlier

    def replay_response(
        self, earlier: IdempotencyKeyMixin, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        """The earlier request's answer, sent again and marked as a replay."""
        sent = {REPLAYED_HEADER: "true", **(headers or {})}
        if earlier.response_location:
            sent["Location"] = earlier.response_location
        return JSONResponse(
            earlier.response_body, status_code=earlier.response_status or 200, headers=sent
        )

    async def created(
        self,
        create: Callable[[], Awaitable[tuple[ModelT, str]]],
        response: Response,
        *,
        versioned: bool = False,
    ) -> ModelT | Response:
        """The answer of a creating route: the earlier one again, or what ``create`` makes
        (its view and its URL), remembered under the key and answered 201 with ``Location``.
        ``versioned``: the view has a ``version``, answered as its ``ETag`` both times."""
        if (replay := await self.replay(versioned=versioned)) is not None:
            return replay
        view, location = await create()
        response.headers["Location"] = location
        if versioned:
            response.headers["ETag"] = etag(view.version)  # type: ignore[attr-defined]
        await self.remember(201, view, location=location)
        return view

    async def remember(self, status: int, body: BaseModel, *, location: str | None = None) -> None:
        """Keep the answer, in the same transaction as what the request created."""
        if self.key is None:
            return
        record = await self._session.get(self._model, (self.scope, self.key))
        assert record is not None, "remember() without a successful replay() claim"
        record.response_status = status
        record.response_body = body.model_dump(mode="json")
        record.response_location = location
