"""Who signs tokens and how this service checks credentials (docs/security.md, "Where the
issuer lives").

- With ``GOV_AUTH_JWKS`` or ``GOV_AUTH_JWKS_URL`` (a district identity provider, or the tests'
  issuer), tokens are verified against those keys.
- Otherwise, when the built-in issuer runs, against the issuer's own keys, in process.
- The built-in issuer runs with ``GOV_AUTH_SIGNING_KEYS``; without them, development and
  test generate a key per process (tokens die with it) and production runs no issuer: there
  the district's identity provider signs.
- API keys come from this service's own table, in the ``X-API-Key`` header, or as Open311's
  ``api_key`` field of a POST body (the only place GeoReport v2 puts it). Never from the query
  string: a URL ends up in proxy and access logs, so a GET with ``?api_key=`` authenticates
  nothing (a 401 says where the key goes; the public Open311 reads answer as without it).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.security.access import ApiKeyLookup, Authenticator, UnauthenticatedError
from gov_common.security.api_keys import principal_for_api_key
from gov_common.security.issuer_routes import Account
from gov_common.security.issuer_setup import load_accounts, parse_signing_keys
from gov_common.security.principal import Principal
from gov_common.security.setup import jwt_verifier
from gov_common.security.tokens import JwtVerifier, SigningKey, TokenIssuer, TokenSettings
from gov_common.settings import Environment
from petitions_api.config import Settings
from petitions_api.db import ApiKey

log = structlog.get_logger(__name__)

OPEN311_PREFIX = "/open311/"


def built_in_issuer(settings: Settings) -> TokenIssuer | None:
    """The issuer this service runs, or None (production without signing keys)."""
    if settings.auth_signing_keys is not None:
        keys = parse_signing_keys(settings.auth_signing_keys.get_secret_value())
    elif settings.environment is Environment.PRODUCTION:
        if settings.auth_accounts_file is not None:
            raise ValueError(
                "GOV_AUTH_ACCOUNTS_FILE is set but GOV_AUTH_SIGNING_KEYS is not: the built-in "
                "issuer needs signing keys in production (or leave both unset and use the "
                "district's identity provider)"
            )
        return None
    else:
        log.warning(
            "auth.ephemeral_signing_key",
            detail="GOV_AUTH_SIGNING_KEYS is not set: signing with a key generated at start; "
            "its tokens stop working when this process ends",
        )
        keys = [SigningKey.generate()]
    return TokenIssuer(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        keys=keys,
        ttl_s=settings.auth_token_ttl_s,
    )


def issuer_accounts(settings: Settings) -> list[Account]:
    """The issuer's clients and people; a development-only file is refused in production."""
    if settings.auth_accounts_file is None:
        return []
    development = settings.environment is not Environment.PRODUCTION
    return load_accounts(settings.auth_accounts_file, development=development)


def token_verifier(settings: Settings, issuer: TokenIssuer | None) -> JwtVerifier | None:
    configured = jwt_verifier(settings)
    if configured is not None:
        return configured
    if issuer is None:
        return None  # bearer tokens refused; API keys still work
    return JwtVerifier(
        TokenSettings(
            issuer=settings.auth_issuer, audience=settings.auth_audience, jwks=issuer.jwks()
        )
    )


async def _api_key(session: AsyncSession, presented: str) -> Principal | None:
    return await principal_for_api_key(session, ApiKey, presented)


class PetitionsAuthenticator(Authenticator):
    """The shared authenticator, plus Open311's ``api_key`` sent as a field of a POST body
    (form-encoded, as GeoReport v2 clients do, or JSON), never in the query string."""

    api_key_placement = (
        "in the X-API-Key header (Open311: or as the api_key field of a POST request's body)"
    )

    def __init__(self, verifier: JwtVerifier | None, api_keys: ApiKeyLookup = _api_key) -> None:
        super().__init__(verifier, api_keys=api_keys)
        self._lookup = api_keys

    async def authenticate(self, request: Request, session: AsyncSession) -> Principal | None:
        principal = await super().authenticate(request, session)
        if (
            principal is not None
            or request.method != "POST"
            or not request.url.path.startswith(OPEN311_PREFIX)
        ):
            return principal
        presented = await _body_api_key(request)
        if not presented:
            return None
        principal = await self._lookup(session, presented)
        if principal is None:
            raise UnauthenticatedError("API key is unknown or revoked")
        return principal


async def _body_api_key(request: Request) -> str | None:
    """The body is parsed once: Starlette keeps the form and JSON for the route to read."""
    content_type = request.headers.get("content-type", "")
    value: Any = None
    try:
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get("api_key")
        elif content_type.startswith("application/json"):
            body = await request.json()
            value = body.get("api_key") if isinstance(body, dict) else None
    except Exception:  # a malformed body is the route's to report
        return None
    return value if isinstance(value, str) else None
