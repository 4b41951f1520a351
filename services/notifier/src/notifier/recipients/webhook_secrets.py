"""Each recipient's webhook has its own signing secret (签名密钥), so no receiver can forge
messages to another.

The notifier generates the secret (``whsec_…``, gov_common.signing) when a webhook address is
registered and returns it once, to the admin who registered it; afterwards it is stored
encrypted and never shown again. Rotating makes a new secret current and keeps the previous
one signing for an overlap (NOTIFIER_WEBHOOK_SECRET_OVERLAP_S), so the receiver can switch
without losing a message: meanwhile each message carries both signatures. No HTTP here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.preconditions import check_if_match
from gov_common.problems import ProblemError
from gov_common.security.crypto import FieldCipher
from gov_common.signing import generate_secret
from notifier.privacy import recipient_context, seal, unseal
from notifier.recipients.models import Recipient


@dataclass(frozen=True)
class IssuedSecret:
    """A secret just generated, in the clear: for the one response that hands it over."""

    secret: str
    previous_secret_expires_at: datetime | None


def _seal(
    cipher: FieldCipher, recipient_id: uuid.UUID, field: str, value: str | None
) -> str | None:
    return seal(cipher, value, context=recipient_context(recipient_id, field))


def issue_first_secret(recipient: Recipient, *, cipher: FieldCipher) -> IssuedSecret:
    """Give a recipient whose webhook has just been registered its first secret."""
    secret = generate_secret()
    recipient.webhook_secret = _seal(cipher, recipient.id, "webhook_secret", secret)
    recipient.webhook_previous_secret = None
    recipient.webhook_previous_secret_expires_at = None
    return IssuedSecret(secret=secret, previous_secret_expires_at=None)


def follow_address(
    recipient: Recipient, *, had_webhook: bool, cipher: FieldCipher
) -> IssuedSecret | None:
    """After the recipient's addresses were set: a webhook registered now gets its secret
    (returned, to be shown once); a webhook removed takes its secrets with it. A webhook that
    stays (even at another URL) keeps its secret: rotate it when the endpoint changes hands."""
    has_webhook = recipient.webhook_url is not None
    if has_webhook and (not had_webhook or recipient.webhook_secret is None):
        return issue_first_secret(recipient, cipher=cipher)
    if not has_webhook:
        recipient.webhook_secret = None
        recipient.webhook_previous_secret = None
        recipient.webhook_previous_secret_expires_at = None
    return None


def rotate(
    recipient: Recipient,
    *,
    if_match: str | None,
    cipher: FieldCipher,
    overlap: timedelta,
    now: datetime | None = None,
) -> IssuedSecret:
    """A new current secret; the current one becomes the previous, signing until ``overlap``
    has passed (a previous one still in its overlap is dropped: two secrets at most)."""
    check_if_match(if_match, recipient.version, "recipient", required=True)
    if recipient.webhook_url is None:
        raise ProblemError(
            409,
            "this recipient has no webhook_url, so no webhook secret to rotate; "
            "set webhook_url first (PUT), which issues one",
            problem_type="conflict",
        )
    at = now or datetime.now(UTC)
    current = unseal(
        cipher, recipient.webhook_secret, context=recipient_context(recipient.id, "webhook_secret")
    )
    secret = generate_secret()
    recipient.webhook_secret = _seal(cipher, recipient.id, "webhook_secret", secret)
    expires = at + overlap if current is not None and overlap > timedelta(0) else None
    recipient.webhook_previous_secret = (
        _seal(cipher, recipient.id, "webhook_previous_secret", current) if expires else None
    )
    recipient.webhook_previous_secret_expires_at = expires
    recipient.version += 1
    recipient.updated_at = at
    return IssuedSecret(secret=secret, previous_secret_expires_at=expires)


async def rotate_secret(
    session: AsyncSession,
    recipient: Recipient,
    *,
    if_match: str | None,
    cipher: FieldCipher,
    overlap: timedelta,
) -> IssuedSecret:
    issued = rotate(recipient, if_match=if_match, cipher=cipher, overlap=overlap)
    await session.flush()
    return issued


def signing_secrets(
    cipher: FieldCipher,
    recipient_id: uuid.UUID,
    *,
    current: str | None,
    previous: str | None,
    previous_expires_at: datetime | None,
    now: datetime | None = None,
) -> tuple[str, ...]:
    """The secrets that sign the recipient's messages now, in the clear, current first: the
    previous one only until its overlap ends. Raises DecryptionError/ValueError when a
    ciphertext cannot be read (the caller fails the delivery rather than send it unsigned)."""
    at = now or datetime.now(UTC)
    secrets: list[str] = []
    clear = unseal(cipher, current, context=recipient_context(recipient_id, "webhook_secret"))
    if clear is not None:
        secrets.append(clear)
    if previous is not None and previous_expires_at is not None and at < previous_expires_at:
        old = unseal(
            cipher, previous, context=recipient_context(recipient_id, "webhook_previous_secret")
        )
        if old is not None:
            secrets.append(old)
    return tuple(secrets)
