"""HTTP routes for recipients (people and groups, their addresses and preferences).

Admins manage recipients and read their addresses in full (each such read is written to the
personal-data access log); supervisors read the recipients of their org unit and below, with
addresses masked (see notifier.security for who may call what).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import any_, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.app import SessionDep
from gov_common.idempotency import IdempotencyKeyHeader
from gov_common.pagination import Page
from gov_common.preconditions import IfMatchHeader, etag
from gov_common.problems import PROBLEM_RESPONSES
from gov_common.security.crypto import FieldCipher
from gov_common.security.principal import Principal
from gov_common.security.setup import PrincipalDep
from notifier.db import idempotency
from notifier.listing import newest_first
from notifier.privacy import CipherDep
from notifier.recipients import service, webhook_secrets
from notifier.recipients.models import Recipient
from notifier.recipients.schemas import (
    RecipientIn,
    RecipientRead,
    RecipientWritten,
    WebhookSecretRotated,
)

router = APIRouter(prefix="/v1/recipients", tags=["recipients"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=201, response_model=RecipientWritten, summary="Register a recipient")
async def create_recipient(
    body: RecipientIn,
    session: SessionDep,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    cipher: CipherDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RecipientWritten | Response:
    """With a ``webhook_url``, the answer holds the webhook's signing secret, this once: a
    replay under the same ``Idempotency-Key`` answers without it (the key's row keeps no
    secret and no address in the clear); rotate the secret to get a new one."""
    guard = idempotency(session, request, principal, idempotency_key, body)
    if (replay := await guard.replay(versioned=True)) is not None:
        return replay
    recipient, issued = await service.create_recipient(session, body, cipher=cipher)
    location = f"/v1/recipients/{recipient.id}"
    response.headers["ETag"] = etag(recipient.version)
    response.headers["Location"] = location
    masked = RecipientRead.of(recipient, service.shown_addresses(cipher, recipient, reveal=False))
    await guard.remember(201, masked, location=location)
    shown = await _shown(session, principal, cipher, recipient, action=None)
    return _written(response, shown, issued)


@router.get("", summary="List recipients, newest first")
async def list_recipients(
    session: SessionDep,
    principal: PrincipalDep,
    cipher: CipherDep,
    org_unit_id: Annotated[str | None, Query(max_length=100)] = None,
    role: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Page[RecipientRead]:
    query = select(Recipient)
    scope = service.scope_of(principal)
    if scope is not None:
        query = query.where(scope)
    if org_unit_id is not None:
        query = query.where(Recipient.org_unit_id == org_unit_id)
    if role is not None:
        query = query.where(literal(role) == any_(Recipient.roles))
    rows, next_cursor = await newest_first(session, query, Recipient, limit=limit, cursor=cursor)
    reveal = service.may_read_addresses(principal)
    if reveal:
        await service.record_reads(session, principal, rows, action="list")
    items = [RecipientRead.of(r, service.shown_addresses(cipher, r, reveal=reveal)) for r in rows]
    return Page[RecipientRead](items=items, next_cursor=next_cursor)


@router.get("/{recipient_id}", summary="Read one recipient (with its ETag)")
async def read_recipient(
    recipient_id: UUID,
    session: SessionDep,
    response: Response,
    principal: PrincipalDep,
    cipher: CipherDep,
) -> RecipientRead:
    recipient = await service.get_recipient(session, recipient_id, principal=principal)
    response.headers["ETag"] = etag(recipient.version)
    return await _shown(session, principal, cipher, recipient, action="read")


@router.put("/{recipient_id}", summary="Replace a recipient (If-Match required)")
async def replace_recipient(
    recipient_id: UUID,
    body: RecipientIn,
    session: SessionDep,
    response: Response,
    principal: PrincipalDep,
    cipher: CipherDep,
    if_match: IfMatchHeader = None,
) -> RecipientWritten:
    """Adding a ``webhook_url`` issues its signing secret, in this answer only."""
    recipient, issued = await service.replace_recipient(
        session, recipient_id, body, if_match=if_match, cipher=cipher
    )
    response.headers["ETag"] = etag(recipient.version)
    shown = await _shown(session, principal, cipher, recipient, action=None)
    return _written(response, shown, issued)


@router.post(
    "/{recipient_id}/webhook-secret/rotate",
    summary="Rotate the webhook's signing secret (If-Match required)",
)
async def rotate_webhook_secret(
    recipient_id: UUID,
    request: Request,
    session: SessionDep,
    response: Response,
    cipher: CipherDep,
    if_match: IfMatchHeader = None,
) -> WebhookSecretRotated:
    """A new secret signs from now on; the previous one keeps signing beside it for
    NOTIFIER_WEBHOOK_SECRET_OVERLAP_S, so the receiver can switch without losing a message.
    The new secret is in this answer only."""
    recipient = await service.get_recipient(session, recipient_id)
    overlap = timedelta(seconds=request.app.state.settings.webhook_secret_overlap_s)
    issued = await webhook_secrets.rotate_secret(
        session, recipient, if_match=if_match, cipher=cipher, overlap=overlap
    )
    response.headers["ETag"] = etag(recipient.version)
    response.headers["Cache-Control"] = "no-store"
    return WebhookSecretRotated(
        recipient_id=recipient.id,
        webhook_secret=issued.secret,
        previous_secret_expires_at=issued.previous_secret_expires_at,
        version=recipient.version,
    )


@router.delete("/{recipient_id}", status_code=204, summary="Delete a recipient (If-Match)")
async def delete_recipient(
    recipient_id: UUID, session: SessionDep, if_match: IfMatchHeader = None
) -> Response:
    await service.delete_recipient(session, recipient_id, if_match=if_match)
    return Response(status_code=204)


def _written(
    response: Response, shown: RecipientRead, issued: webhook_secrets.IssuedSecret | None
) -> RecipientWritten:
    if issued is None:
        return RecipientWritten(**shown.model_dump())
    response.headers["Cache-Control"] = "no-store"  # a secret: no cache keeps it
    return RecipientWritten(**shown.model_dump(), webhook_secret=issued.secret)


async def _shown(
    session: AsyncSession,
    principal: Principal,
    cipher: FieldCipher,
    recipient: Recipient,
    *,
    action: str | None,
) -> RecipientRead:
    """The recipient as the caller may see it; ``action`` None: the caller sent these
    addresses themselves (create, replace), so echoing them back is no read to audit."""
    reveal = service.may_read_addresses(principal)
    if reveal and action is not None:
        await service.record_reads(session, principal, [recipient], action=action)
    return RecipientRead.of(recipient, service.shown_addresses(cipher, recipient, reveal=reveal))
