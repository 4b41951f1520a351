"""Webhook signatures."""

from gov_common.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_headers, verify

BODY = b'{"id":"1"}'


def test_a_signature_verifies_with_the_same_secret_only() -> None:
    headers = signature_headers("s3cret", BODY, now=1_700_000_000)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert verify("s3cret", timestamp=ts, signature=sig, body=BODY, now=1_700_000_010)
    assert not verify("other", timestamp=ts, signature=sig, body=BODY, now=1_700_000_010)


def test_a_changed_body_or_timestamp_fails() -> None:
    headers = signature_headers("s3cret", BODY, now=1_700_000_000)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert not verify("s3cret", timestamp=ts, signature=sig, body=b'{"id":"2"}', now=1_700_000_000)
    assert not verify("s3cret", timestamp="1700000001", signature=sig, body=BODY, now=1_700_000_000)


def test_old_timestamps_are_refused_against_replay() -> None:
    headers = signature_headers("s3cret", BODY, now=1_700_000_000)
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert not verify("s3cret", timestamp=ts, signature=sig, body=BODY, now=1_700_000_000 + 301)
    assert not verify("s3cret", timestamp="soon", signature=sig, body=BODY)
