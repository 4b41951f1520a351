"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"``, sent in headers.

A receiver recomputes the HMAC with the shared secret, compares in constant time, and rejects
timestamps outside its tolerance so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Gov-Signature"
TIMESTAMP_HEADER = "X-Gov-Timestamp"
DELIVERY_ID_HEADER = "X-Gov-Delivery-Id"
EVENT_ID_HEADER = "X-Gov-Event-Id"
SIGNATURE_SCHEME = "v1="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SIGNATURE_SCHEME + mac.hexdigest()


def signature_headers(secret: str, body: bytes, *, now: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if now is None else now
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str,
    *,
    timestamp: str,
    signature: str,
    body: bytes,
    tolerance_s: int = 300,
    now: int | None = None,
) -> bool:
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)
