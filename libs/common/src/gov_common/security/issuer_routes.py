"""The built-in token endpoint (OAuth 2.0 token endpoint, RFC 6749 §3.2) and the JWKS.

It serves machine clients (``client_credentials``) and, where the district has no identity
provider of its own, people (``password``). Accounts come from configuration with Argon2id
hashes (``passwords``), checked in a worker thread; a hash of an old format or with old
parameters is replaced in the ``PasswordHashStore`` on its next successful sign-in. Tokens are
short-lived ES256 JWTs that every service verifies against the JWKS. With a district identity
provider, leave the issuer off and point the services at its JWKS.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from gov_common.security.issuer_hashes import PasswordHashStore
from gov_common.security.passwords import DUMMY_HASH, verify_off_loop
from gov_common.security.principal import Role
from gov_common.security.tokens import TokenIssuer


@dataclass(frozen=True)
class Account:
    """A client (``client_credentials``) or a person (``password``) the issuer knows."""

    id: str
    secret_hash: str
    roles: tuple[Role, ...]
    org_unit: str | None = None
    kind: str = "client"  # client or person


log = structlog.get_logger(__name__)


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="gov-suite"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def token_router(
    issuer: TokenIssuer,
    accounts: Sequence[Account],
    *,
    ttl_s: int,
    hash_store: Callable[..., PasswordHashStore],
) -> APIRouter:
    """``hash_store`` is a FastAPI dependency giving the store of replaced hashes
    (``issuer_hashes.sql_hash_store(model)`` in a service)."""
    by_id = {(a.kind, a.id): a for a in accounts}
    router = APIRouter(tags=["auth"])

    async def check(
        store: PasswordHashStore, kind: str, account_id: str, secret: str
    ) -> Account | None:
        account = by_id.get((kind, account_id))
        if account is None:
            # The same steps as for a wrong secret, so both answers take as long.
            await verify_off_loop(secret, await store.current(kind, account_id, DUMMY_HASH))
            return None
        stored = await store.current(kind, account_id, account.secret_hash)
        verified = await verify_off_loop(secret, stored)
        if not verified.ok:
            return None
        if verified.replacement is not None:
            await store.replace(kind, account_id, account.secret_hash, verified.replacement)
            log.info("issuer.password_rehashed", kind=kind, account=account_id)
        return account

    @router.post("/oauth/token", summary="Get an access token (client credentials or password)")
    async def token(
        request: Request,
        grant_type: Annotated[str, Form()],
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form()] = None,
        username: Annotated[str | None, Form()] = None,
        password: Annotated[str | None, Form()] = None,
        store: PasswordHashStore = Depends(hash_store),
    ) -> JSONResponse:
        if grant_type == "client_credentials":
            basic = request.headers.get("authorization", "")
            if basic.lower().startswith("basic "):
                try:
                    decoded = base64.b64decode(basic[6:]).decode()
                except ValueError:
                    return _oauth_error(401, "invalid_client", "malformed Basic credentials")
                client_id, _, client_secret = decoded.partition(":")
            if not client_id or not client_secret:
                return _oauth_error(401, "invalid_client", "send client_id and client_secret")
            account = await check(store, "client", client_id, client_secret)
            if account is None:
                return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
        elif grant_type == "password":
            if not username or not password:
                return _oauth_error(400, "invalid_request", "send username and password")
            account = await check(store, "person", username, password)
            if account is None:
                return _oauth_error(400, "invalid_grant", "unknown user or wrong password")
        else:
            return _oauth_error(400, "unsupported_grant_type", "use client_credentials or password")
        access_token = issuer.issue(account.id, account.roles, org_unit=account.org_unit)
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl_s,
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    @router.get("/.well-known/jwks.json", summary="Public keys that sign this issuer's tokens")
    async def jwks() -> dict[str, Any]:
        return issuer.jwks()

    return router
