"""The authenticated caller: roles and the org unit their scope starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # 12345 hotline operator / 信访 registrar
    HANDLER = "handler"  # 承办人 in a department, town or village
    SUPERVISOR = "supervisor"  # 督办
    # 本机关、单位负责人: the head of its org unit (approves a 信访 extension, 第三十四条)
    UNIT_HEAD = "unit_head"
    PLANNER = "planner"  # planning office (发改/政府办)
    ADMIN = "admin"
    SYSTEM_CLIENT = "system_client"  # another government system
    READ_ONLY = "read_only"


class AuthMethod(StrEnum):
    JWT = "jwt"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    # Org-unit code the caller's scope starts from (a town's handler: that town); None = all.
    org_unit: str | None = None
    method: AuthMethod = AuthMethod.JWT
    scopes: frozenset[str] = field(default_factory=frozenset)

    def has_any(self, roles: frozenset[Role] | set[Role]) -> bool:
        return bool(self.roles & roles)
