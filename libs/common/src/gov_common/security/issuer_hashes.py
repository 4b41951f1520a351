"""Where the built-in issuer keeps the hashes it replaced on sign-in.

The accounts file (configuration, read-only in a pod) holds each account's hash. When a
sign-in succeeds against a hash of an old format or with old parameters, the issuer stores a
new Argon2id hash here, together with the SHA-256 of the file's hash it replaces; from then on
that account is checked against the stored hash. When an operator puts a new hash in the file,
its SHA-256 no longer matches and the file wins again, so the file stays the place where
passwords are set. Stored hashes are per service database (petitions-api), shared by its
replicas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, Protocol

from sqlalchemy import DateTime, String, Text, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.app import SessionDep


class PasswordHashStore(Protocol):
    async def current(self, kind: str, account_id: str, configured: str) -> str:
        """The hash to check the account against: a stored replacement of ``configured``,
        else ``configured`` itself."""
        ...

    async def replace(self, kind: str, account_id: str, configured: str, new_hash: str) -> None:
        """Store ``new_hash`` as the replacement of the file's ``configured`` hash."""
        ...


def _fingerprint(configured: str) -> str:
    return hashlib.sha256(configured.encode()).hexdigest()


class MemoryPasswordHashStore:
    """Replacements kept in this process only (tests, and an issuer without a database)."""

    def __init__(self) -> None:
        self.replaced: dict[tuple[str, str], tuple[str, str]] = {}

    async def current(self, kind: str, account_id: str, configured: str) -> str:
        fingerprint, stored = self.replaced.get((kind, account_id), ("", ""))
        return stored if fingerprint == _fingerprint(configured) else configured

    async def replace(self, kind: str, account_id: str, configured: str, new_hash: str) -> None:
        self.replaced[(kind, account_id)] = (_fingerprint(configured), new_hash)


class IssuerPasswordHashMixin:
    """The service's table of replaced hashes (one row per account that was rehashed)."""

    __tablename__: ClassVar[str] = "issuer_password_hashes"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # client or person
    account_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(Text)
    # SHA-256 (hex) of the accounts file's hash this one replaced.
    replaces_sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SqlPasswordHashStore:
    """Replacements in the request's unit of work: written only if the sign-in commits."""

    def __init__(self, session: AsyncSession, model: type[IssuerPasswordHashMixin]) -> None:
        self._session = session
        self._model = model

    async def current(self, kind: str, account_id: str, configured: str) -> str:
        model = self._model
        row = await self._session.scalar(
            select(model).where(model.kind == kind, model.account_id == account_id)
        )
        if row is not None and row.replaces_sha256 == _fingerprint(configured):
            return row.secret_hash
        return configured

    async def replace(self, kind: str, account_id: str, configured: str, new_hash: str) -> None:
        values = {"secret_hash": new_hash, "replaces_sha256": _fingerprint(configured)}
        statement = insert(self._model).values(kind=kind, account_id=account_id, **values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["kind", "account_id"], set_={**values, "updated_at": func.now()}
            )
        )


def sql_hash_store(
    model: type[IssuerPasswordHashMixin],
) -> Callable[[AsyncSession], SqlPasswordHashStore]:
    """A FastAPI dependency: the store over the request's session."""

    def dependency(session: SessionDep) -> SqlPasswordHashStore:
        return SqlPasswordHashStore(session, model)

    return dependency


def memory_hash_store(store: MemoryPasswordHashStore) -> Callable[[], MemoryPasswordHashStore]:
    def dependency() -> MemoryPasswordHashStore:
        return store

    return dependency
