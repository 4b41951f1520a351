"""Webhook signatures per Standard Webhooks (https://www.standardwebhooks.com/).

Each message carries ``webhook-id`` (the delivery's id, the same on every retry, so a receiver
drops repeats by it), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: one
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` per secret that signs, separated by
spaces (two while a rotated secret's predecessor is still honoured). Secrets are
``whsec_<base64 of the key bytes>``.

Signing and verifying are done by the ``standardwebhooks`` library, so a receiver verifies with
the same stock code: ``standardwebhooks.Webhook(secret).verify(body, headers)``, which also
refuses timestamps more than 5 minutes away against replay.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
# Not part of the signature scheme: the CloudEvent's id, for receivers that key on the event.
EVENT_ID_HEADER = "X-Gov-Event-Id"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32  # 256-bit HMAC keys; Standard Webhooks asks for 24 to 64 bytes


def generate_secret() -> str:
    """A new random secret, ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(secret: str) -> str:
    """``secret`` if it is a usable ``whsec_…`` secret; ValueError naming what is wrong."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret is 'whsec_' followed by base64 (see generate_secret)")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret's part after 'whsec_' must be base64") from None
    if len(key) < 24 or len(key) > 64:
        raise ValueError("a webhook secret must hold 24 to 64 bytes of key (32 recommended)")
    return secret


def signature_headers(
    signing_secrets: Sequence[str], *, msg_id: str, body: bytes, now: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with every one of
    ``signing_secrets`` (the current one first)."""
    if not signing_secrets:
        raise ValueError("a webhook needs at least one signing secret")
    timestamp = int(time.time()) if now is None else now
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    data = body.decode()
    signature = " ".join(
        Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=data) for secret in signing_secrets
    )
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature}


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` carry a valid, current signature of ``body`` by ``secret``
    (``standardwebhooks.Webhook.verify``, as a yes or no)."""
    try:
        Webhook(secret).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError):
        return False
    return True
