"""The request fingerprint of an Idempotency-Key: keyed, and sensitive to what was asked."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from starlette.requests import Request

from gov_common.idempotency import (
    Idempotency,
    IdempotencyKeyMixin,
    IdempotencyKeyReusedError,
    caller_scope,
    request_fingerprint,
)
from gov_common.security.principal import Principal, Role


class Body(BaseModel):
    phone: str
    subject: str


def test_the_fingerprint_depends_on_the_secret_the_route_and_the_body() -> None:
    body = Body(phone="13912345678", subject="噪音")
    base = request_fingerprint(b"k1", "POST", "/v1/plans", body)
    assert base == request_fingerprint(b"k1", "POST", "/v1/plans", Body(**body.model_dump()))
    # Keyed: without the service's secret, a stored hash cannot be matched to a guessed body.
    assert base != request_fingerprint(b"k2", "POST", "/v1/plans", body)
    assert base != request_fingerprint(b"k1", "POST", "/v1/plans/other", body)
    assert base != request_fingerprint(b"k1", "POST", "/v1/plans", Body(phone="1", subject="噪音"))


def test_a_long_caller_is_hashed_to_fit_and_stays_distinct() -> None:
    long_a, long_b = "a" * 150, "a" * 149 + "b"
    assert caller_scope("clerk@edu") == "clerk@edu"
    assert len(caller_scope(long_a)) <= 100
    assert caller_scope(long_a) != caller_scope(long_b)


def test_a_namespace_prefixes_the_scope_and_still_fits() -> None:
    assert caller_scope("clerk@edu", "cases:") == "cases:clerk@edu"
    long = "a" * 98
    assert caller_scope(long) == long
    assert caller_scope(long, "cases:").startswith("cases:sha256:")
    assert len(caller_scope(long, "cases:")) <= 100


class _Row:
    def __init__(self, request_hash: str) -> None:
        self.request_hash = request_hash
        self.response_status = 201
        self.response_body = {"id": "1"}
        self.response_location = "/v1/things/1"


class _Session:
    """The one call ``Idempotency.earlier`` makes: reading the earlier request's row."""

    def __init__(self, row: _Row) -> None:
        self.row = row

    async def get(self, model: object, key: object) -> _Row:
        return self.row


def _guard(session: _Session, body: Body, **options: Any) -> Idempotency:
    request = Request({"type": "http", "method": "POST", "path": "/v1/things", "headers": []})
    principal = Principal(subject="clerk", roles=frozenset({Role.OPERATOR}))
    return Idempotency(
        session,  # type: ignore[arg-type]
        IdempotencyKeyMixin,  # type: ignore[type-abstract]
        request,
        principal,
        "k-1",
        body,
        b"new",
        **options,
    )


async def test_a_key_claimed_under_a_rotated_secret_or_an_older_scheme_still_replays() -> None:
    body = Body(phone="13912345678", subject="噪音")
    under_old_secret = request_fingerprint(b"old", "POST", "/v1/things", body)
    session = _Session(_Row(under_old_secret))
    with pytest.raises(IdempotencyKeyReusedError):
        await _guard(session, body).earlier()
    assert await _guard(session, body, previous_secrets=[b"old"]).earlier() is session.row

    session.row = _Row("digest-of-the-old-scheme")
    older = _guard(session, body, also_accept=lambda: ["digest-of-the-old-scheme"])
    assert await older.earlier() is session.row
    replay = older.replay_response(session.row, {"ETag": '"1"'})
    assert replay.headers["location"] == "/v1/things/1"
    assert replay.headers["idempotent-replayed"] == "true" and replay.status_code == 201
    # Another body under the same key is refused whatever the older digests are.
    other = Body(phone="13900000000", subject="噪音")
    with pytest.raises(IdempotencyKeyReusedError):
        await _guard(session, other, previous_secrets=[b"old"]).earlier()
