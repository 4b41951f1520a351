"""Webhook signatures per Standard Webhooks, checked with the stock library a receiver uses."""

import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gov_common.signing import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_secret,
    generate_secret,
    signature_headers,
    verify,
)

BODY = b'{"id":"1","data":{"title":"\xe5\x99\xaa\xe9\x9f\xb3"}}'
MSG = "8a4c1c8e-0000-4000-8000-000000000001"


def test_the_stock_verifier_accepts_a_signature_by_the_same_secret_only() -> None:
    secret = generate_secret()
    headers = signature_headers([secret], msg_id=MSG, body=BODY)
    assert headers[ID_HEADER] == MSG
    assert Webhook(secret).verify(BODY, headers) == {"id": "1", "data": {"title": "噪音"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)
    assert verify(secret, BODY, headers) and not verify(generate_secret(), BODY, headers)


def test_it_matches_the_scheme_standard_webhooks_specifies() -> None:
    # The Standard Webhooks specification's example: its secret, id, timestamp and payload.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = signature_headers(
        [secret], msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", body=body, now=1614265330
    )
    assert headers[TIMESTAMP_HEADER] == "1614265330"
    assert headers[SIGNATURE_HEADER] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_several_secrets_sign_side_by_side_and_each_verifies() -> None:
    old, new = generate_secret(), generate_secret()
    headers = signature_headers([new, old], msg_id=MSG, body=BODY)
    assert len(headers[SIGNATURE_HEADER].split(" ")) == 2
    assert verify(new, BODY, headers) and verify(old, BODY, headers)


def test_a_changed_body_id_or_an_old_timestamp_fails() -> None:
    secret = generate_secret()
    headers = signature_headers([secret], msg_id=MSG, body=BODY)
    assert not verify(secret, b'{"id":"2"}', headers)
    assert not verify(secret, BODY, {**headers, ID_HEADER: "another"})
    stale = signature_headers([secret], msg_id=MSG, body=BODY, now=int(time.time()) - 301)
    assert not verify(secret, BODY, stale)  # against replay
    assert not verify(secret, BODY, {**headers, SIGNATURE_HEADER: "garbage"})


def test_secrets_are_whsec_base64_of_enough_bytes() -> None:
    assert generate_secret() != generate_secret()
    assert check_secret(generate_secret())
    for bad in ("dev-only-change-me", "whsec_not*base64", "whsec_c2hvcnQ="):
        with pytest.raises(ValueError, match="webhook secret"):
            check_secret(bad)
    with pytest.raises(ValueError):
        signature_headers([], msg_id=MSG, body=BODY)
