"""The append-only log of every read of citizens' personal data, which admins can query."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import structlog
from sqlalchemy import BigInteger, DateTime, Identity, String, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from gov_common.security.principal import Principal


class PersonalDataAccessMixin:
    __tablename__: ClassVar[str] = "personal_data_access_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONB)
    action: Mapped[str] = mapped_column(String(32))  # read, export, search
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(100))


async def record_personal_data_access(
    session: AsyncSession,
    model: type[PersonalDataAccessMixin],
    principal: Principal,
    *,
    resource_type: str,
    resource_id: str,
    fields: list[str],
    action: str = "read",
) -> None:
    """Written in the reading request's transaction: no audit row, no data shown."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await session.execute(
        insert(model).values(
            actor=principal.subject,
            roles=sorted(r.value for r in principal.roles),
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            fields=fields,
            request_id=request_id,
        )
    )


def append_only_ddl(table: str) -> list[str]:
    """Statements for a migration: the database itself refuses UPDATE and DELETE."""
    function = f"{table}_append_only"
    return [
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{table} is append-only';
END $$""",
        f"""CREATE TRIGGER {function} BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION {function}()""",
    ]
