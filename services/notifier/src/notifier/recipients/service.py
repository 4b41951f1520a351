"""Rules about recipients: unique person ids, safe deletion. No HTTP here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.problems import NotFoundError, ProblemError
from notifier.concurrency import check_if_match
from notifier.recipients.models import Recipient
from notifier.recipients.schemas import RecipientIn


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


async def create_recipient(session: AsyncSession, data: RecipientIn) -> Recipient:
    await _refuse_taken_user_id(session, data.user_id)
    recipient = Recipient(id=uuid.uuid4(), version=1, **data.columns())
    session.add(recipient)
    await session.flush()
    await session.refresh(recipient)
    return recipient


async def get_recipient(session: AsyncSession, recipient_id: uuid.UUID) -> Recipient:
    recipient = await session.get(Recipient, recipient_id)
    if recipient is None:
        raise NotFoundError("recipient", recipient_id)
    return recipient


async def replace_recipient(
    session: AsyncSession, recipient_id: uuid.UUID, data: RecipientIn, *, if_match: str | None
) -> Recipient:
    recipient = await get_recipient(session, recipient_id)
    check_if_match(if_match, recipient.version, "recipient")
    await _refuse_taken_user_id(session, data.user_id, but=recipient_id)
    for name, value in data.columns().items():
        setattr(recipient, name, value)
    recipient.version += 1
    recipient.updated_at = datetime.now(UTC)
    await session.flush()
    return recipient


async def delete_recipient(
    session: AsyncSession, recipient_id: uuid.UUID, *, if_match: str | None
) -> None:
    from notifier.rules.service import rules_naming_recipient  # rules depend on recipients

    recipient = await get_recipient(session, recipient_id)
    check_if_match(if_match, recipient.version, "recipient")
    naming = await rules_naming_recipient(session, recipient_id)
    if naming:
        raise ProblemError(
            409,
            "rule(s) " + ", ".join(naming) + " name this recipient; change them first",
            problem_type="conflict",
        )
    await session.delete(recipient)
    await session.flush()
