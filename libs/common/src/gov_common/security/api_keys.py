"""API keys for other government systems (and Open311's ``api_key``): stored hashed, scoped
to roles and an org unit, revocable. A key is ``gk_<id>_<secret>``; only the id and the
SHA-256 of the secret are stored (the secret has 256 bits of entropy, so a slow hash adds
nothing), and the full key is shown once, when it is created."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import ClassVar

from sqlalchemy import DateTime, String, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.security.principal import AuthMethod, Principal, Role

_KEY_PATTERN = re.compile(r"gk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class ApiKeyMixin:
    __tablename__: ClassVar[str] = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONB)
    org_unit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def new_api_key() -> tuple[str, str, str]:
    """(id, full key to hand out once, hash to store)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return key_id, f"gk_{key_id}_{secret}", _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def principal_for_api_key(
    session: AsyncSession, model: type[ApiKeyMixin], presented: str
) -> Principal | None:
    """The key's principal, or None for a malformed, unknown, wrong or revoked key."""
    match = _KEY_PATTERN.fullmatch(presented.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    row = await session.scalar(select(model).where(model.id == key_id))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_sha256, _hash(secret)):
        return None
    return Principal(
        subject=f"api-key:{row.id}",
        roles=frozenset(Role(r) for r in row.roles),
        org_unit=row.org_unit,
        method=AuthMethod.API_KEY,
    )
