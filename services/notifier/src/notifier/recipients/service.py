"""Rules about recipients: unique person ids, safe deletion, addresses sealed at rest and shown
only to whom may see them, supervisors kept to their org unit. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.preconditions import check_if_match
from gov_common.problems import NotFoundError, ProblemError
from gov_common.security.audit import record_personal_data_access
from gov_common.security.crypto import FieldCipher
from gov_common.security.principal import Principal, Role
from notifier.db import PersonalDataAccess
from notifier.privacy import (
    PERSONAL_FIELDS,
    RECIPIENT_SECRET_FIELDS,
    mask_address,
    recipient_context,
    seal,
    unseal,
)
from notifier.recipients.models import Recipient
from notifier.recipients.schemas import RecipientIn
from notifier.recipients.webhook_secrets import IssuedSecret, follow_address
from notifier.rules.service import rules_naming_recipient


def _sealed_columns(
    cipher: FieldCipher, recipient_id: uuid.UUID, data: RecipientIn
) -> dict[str, object]:
    columns = data.columns()
    for field in RECIPIENT_SECRET_FIELDS:
        value = columns[field]
        columns[field] = seal(
            cipher,
            None if value is None else str(value),
            context=recipient_context(recipient_id, field),
        )
    return columns


def addresses(cipher: FieldCipher, recipient: Recipient) -> dict[str, str | None]:
    """The recipient's addresses and robot secret in the clear (for sending, and for admins)."""
    return {
        field: unseal(
            cipher, getattr(recipient, field), context=recipient_context(recipient.id, field)
        )
        for field in RECIPIENT_SECRET_FIELDS
    }


def may_read_addresses(principal: Principal) -> bool:
    """Admins manage recipients and see their addresses; everyone else sees them masked."""
    return Role.ADMIN in principal.roles


def shown_addresses(
    cipher: FieldCipher, recipient: Recipient, *, reveal: bool
) -> dict[str, str | None]:
    """Addresses as the caller sees them; the robot secret is never shown to anyone."""
    clear = addresses(cipher, recipient)
    clear.pop("dingtalk_secret")
    if reveal:
        return clear
    return {field: mask_address(field, value) for field, value in clear.items()}


async def record_reads(
    session: AsyncSession, principal: Principal, recipients: list[Recipient], *, action: str
) -> None:
    """One access-log row per recipient whose phone or email the caller saw unmasked."""
    for recipient in recipients:
        fields = [f for f in PERSONAL_FIELDS if getattr(recipient, f) is not None]
        if fields:
            await record_personal_data_access(
                session,
                PersonalDataAccess,
                principal,
                resource_type="recipient",
                resource_id=str(recipient.id),
                fields=fields,
                action=action,
            )


def scope_of(principal: Principal) -> ColumnElement[bool] | None:
    """A supervisor with an org unit sees the recipients of that unit and the units below it
    (org-unit codes are hierarchical: a town's code prefixes its villages'); None: all."""
    if Role.ADMIN in principal.roles or principal.org_unit is None:
        return None
    return Recipient.org_unit_id.startswith(principal.org_unit, autoescape=True)


async def _refuse_taken_user_id(
    session: AsyncSession, user_id: str | None, *, but: uuid.UUID | None = None
) -> None:
    if user_id is None:
        return
    query = select(Recipient.id).where(Recipient.user_id == user_id)
    if but is not None:
        query = query.where(Recipient.id != but)
    if (await session.scalar(query)) is not None:
        raise ProblemError(
            409,
            f"user_id {user_id!r} already belongs to another recipient; edit that one instead",
            problem_type="conflict",
        )


async def create_recipient(
    session: AsyncSession, data: RecipientIn, *, cipher: FieldCipher
) -> tuple[Recipient, IssuedSecret | None]:
    """The new recipient, and its webhook's signing secret if it has a webhook (to be shown
    once, to the admin registering it)."""
    await _refuse_taken_user_id(session, data.user_id)
    recipient_id = uuid.uuid4()
    recipient = Recipient(id=recipient_id, version=1, **_sealed_columns(cipher, recipient_id, data))
    issued = follow_address(recipient, had_webhook=False, cipher=cipher)
    session.add(recipient)
    await session.flush()
    await session.refresh(recipient)
    return recipient, issued


async def get_recipient(
    session: AsyncSession, recipient_id: uuid.UUID, *, principal: Principal | None = None
) -> Recipient:
    """The recipient; outside the caller's scope it does not exist for them (404, not 403,
    so ids of other units' recipients cannot be probed)."""
    query = select(Recipient).where(Recipient.id == recipient_id)
    scope = scope_of(principal) if principal is not None else None
    if scope is not None:
        query = query.where(scope)
    recipient = await session.scalar(query)
    if recipient is None:
        raise NotFoundError("recipient", recipient_id)
    return recipient


async def replace_recipient(
    session: AsyncSession,
    recipient_id: uuid.UUID,
    data: RecipientIn,
    *,
    if_match: str | None,
    cipher: FieldCipher,
) -> tuple[Recipient, IssuedSecret | None]:
    """The replaced recipient, and a signing secret if a webhook was registered by this
    replacement (a webhook it keeps keeps its secret; one it removes loses it)."""
    recipient = await get_recipient(session, recipient_id)
    check_if_match(if_match, recipient.version, "recipient", required=True)
    await _refuse_taken_user_id(session, data.user_id, but=recipient_id)
    had_webhook = recipient.webhook_url is not None
    for name, value in _sealed_columns(cipher, recipient_id, data).items():
        setattr(recipient, name, value)
    issued = follow_address(recipient, had_webhook=had_webhook, cipher=cipher)
    recipient.version += 1
    recipient.updated_at = datetime.now(UTC)
    await session.flush()
    return recipient, issued


async def delete_recipient(
    session: AsyncSession, recipient_id: uuid.UUID, *, if_match: str | None
) -> None:
    recipient = await get_recipient(session, recipient_id)
    check_if_match(if_match, recipient.version, "recipient", required=True)
    naming = await rules_naming_recipient(session, recipient_id)
    if naming:
        raise ProblemError(
            409,
            "rule(s) " + ", ".join(naming) + " name this recipient; change them first",
            problem_type="conflict",
        )
    await session.delete(recipient)
    await session.flush()
