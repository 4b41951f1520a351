"""Recipients' addresses and robot secrets: encrypted at rest, masked when shown, scrubbed from
error text before it is logged, stored or published.

Staff phone numbers and email addresses are personal data (and a petitioner registered as a
recipient is a citizen); robot webhook URLs carry their access token in the query string, and
the DingTalk 加签 secret and each webhook's signing secret sign messages. All of them are
stored as AES-256-GCM ciphertexts (gov_common.security.crypto), each bound to its row and field,
so a ciphertext copied to another row or column does not decrypt.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from gov_common.security.crypto import FieldCipher, mask_phone, normalise_phone

# Recipient columns holding ciphertexts: every address and the DingTalk secret.
RECIPIENT_SECRET_FIELDS = (
    "phone",
    "email",
    "webhook_url",
    "wecom_webhook_url",
    "dingtalk_webhook_url",
    "dingtalk_secret",
)
# The webhook's signing secrets (notifier.recipients.webhook_secrets), sealed the same way
# but never shown to anyone after the response that created them.
WEBHOOK_SECRET_FIELDS = ("webhook_secret", "webhook_previous_secret")
# Of those, the ones that are personal data: their unmasked reads are audited.
PERSONAL_FIELDS = ("phone", "email")


def _app_cipher(request: Request) -> FieldCipher:
    cipher = request.app.state.cipher
    assert isinstance(cipher, FieldCipher)
    return cipher


# The app's cipher (from GOV_PII_KEYS / GOV_PII_ACTIVE_KEY), for routes.
CipherDep = Annotated[FieldCipher, Depends(_app_cipher)]


def recipient_context(recipient_id: uuid.UUID | str, field: str) -> str:
    return f"recipients/{recipient_id}/{field}"


def delivery_context(delivery_id: uuid.UUID | str) -> str:
    return f"deliveries/{delivery_id}/recipient"


def seal(cipher: FieldCipher, value: str | None, *, context: str) -> str | None:
    return None if value is None else cipher.encrypt(value, context=context)


def unseal(cipher: FieldCipher, value: str | None, *, context: str) -> str | None:
    return None if value is None else cipher.decrypt(value, context=context)


def mask_email(email: str) -> str:
    """``li.wei@duban.example`` → ``l***@duban.example``: the domain says which office."""
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_url(url: str) -> str:
    """Scheme and host only: robot tokens sit in the query, webhook tokens often in the path."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return "***"
    return f"{parts.scheme}://{parts.hostname}/***"


def mask_address(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    if field == "phone":
        return mask_phone(value)
    if field == "email":
        return mask_email(value)
    return mask_url(value)


def mask_delivery_address(channel: str, address: str) -> str:
    """A delivery's address as shown: enough to tell which, never the whole of it."""
    if channel == "sms":
        return mask_phone(address)
    if channel == "email":
        return mask_email(address)
    return mask_url(address)


_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Phone-like runs: 7 to 15 digits, optionally with + and dashes, not inside a longer word
# (so the groups of a UUID are left alone).
_PHONE = re.compile(r"(?<![\w-])\+?\d(?:-?\d){6,14}(?![\w-])")
_URL_TAIL = re.compile(r"(https?://[^\s/?#'\"]+)[^\s'\"]*")


def scrub(text: str, known: Iterable[str | None] = ()) -> str:
    """``text`` without addresses: the ``known`` ones (the delivery's own) replaced by their
    mask, then anything that looks like an email, a phone number or a URL's path and query.

    SMTP servers echo the refused recipient, HTTP libraries the URL with its token; such
    text goes to logs, ``last_error`` and the failed-delivery event, so it is scrubbed first.
    """
    for value in known:
        if not value:
            continue
        if "@" in value:
            text = text.replace(value, mask_email(value))
        elif "://" in value:
            text = text.replace(value, mask_url(value))
        else:
            text = text.replace(value, mask_phone(value))
            text = text.replace(normalise_phone(value), mask_phone(value))
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    text = _URL_TAIL.sub(lambda m: m.group(1) + "/***", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
