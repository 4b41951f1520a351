"""The request fingerprint of an Idempotency-Key: keyed, and sensitive to what was asked."""

from __future__ import annotations

from pydantic import BaseModel

from gov_common.idempotency import caller_scope, request_fingerprint


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
