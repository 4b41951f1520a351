"""Configuration of the built-in issuer: its signing keys and its accounts file."""

from __future__ import annotations

import base64
from pathlib import Path

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field

from gov_common.security.issuer_routes import Account
from gov_common.security.principal import Role
from gov_common.security.tokens import SigningKey

log = structlog.get_logger(__name__)


class AccountEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    kind: str = Field(pattern="^(client|person)$")
    # Argon2id in PHC format (``python -m gov_common.security.passwords``); the first format,
    # ``scrypt$…``, is still accepted and replaced on the account's next sign-in.
    secret_hash: str = Field(pattern=r"^(\$argon2id\$|scrypt\$)")
    roles: list[Role] = Field(min_length=1)
    org_unit: str | None = None
    display_name: str | None = None


class AccountsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A file of demonstration accounts says so, and is refused outside development.
    development_only: bool = False
    accounts: list[AccountEntry]


def load_accounts(path: str | Path, *, development: bool) -> list[Account]:
    parsed = AccountsFile.model_validate(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    if parsed.development_only and not development:
        raise ValueError(f"{path} holds development-only accounts; configure real ones")
    legacy = [e.id for e in parsed.accounts if e.secret_hash.startswith("scrypt$")]
    if legacy:
        log.warning(
            "issuer.legacy_password_hashes",
            accounts=legacy,
            detail=f"{path} holds scrypt hashes of the first format: they still sign in and are "
            "replaced by Argon2id in the database on the next sign-in, but the file keeps the "
            "weak hash; put new hashes in it (python -m gov_common.security.passwords)",
        )
    return [
        Account(e.id, e.secret_hash, tuple(e.roles), e.org_unit, kind=e.kind)
        for e in parsed.accounts
    ]


def parse_signing_keys(spec: str) -> list[SigningKey]:
    """``kid:base64url(PEM),…`` → keys; the first one signs, all are published."""
    keys = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kid, sep, encoded = part.partition(":")
        if not sep or not kid:
            raise ValueError("signing keys are kid:base64url-encoded PEM, comma-separated")
        pem = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        keys.append(SigningKey(kid, pem))
    if not keys:
        raise ValueError("no signing key configured")
    return keys


def encode_signing_key(key: SigningKey) -> str:
    return f"{key.kid}:{base64.urlsafe_b64encode(key.private_pem).decode().rstrip('=')}"
