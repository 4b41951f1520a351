"""Putting the security pieces on a service from its settings."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Request
from starlette.middleware.cors import CORSMiddleware

from gov_common.security.access import UnauthenticatedError
from gov_common.security.crypto import BlindIndex, FieldCipher, parse_index_keys, parse_keyring
from gov_common.security.hardening import (
    BodySizeLimitMiddleware,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
)
from gov_common.security.principal import Principal
from gov_common.security.tokens import JwtVerifier, TokenSettings
from gov_common.settings import ServiceSettings


def field_cipher(settings: ServiceSettings) -> FieldCipher:
    return FieldCipher(
        parse_keyring(settings.pii_keys.get_secret_value()), active=settings.pii_active_key
    )


def blind_index(settings: ServiceSettings) -> BlindIndex:
    previous = settings.pii_previous_index_keys
    return BlindIndex(
        settings.pii_index_key.get_secret_value().encode(),
        key_id=settings.pii_index_key_id,
        previous=parse_index_keys(previous.get_secret_value()) if previous else None,
    )


def jwt_verifier(settings: ServiceSettings) -> JwtVerifier | None:
    """None when no keys are configured: then bearer tokens are refused, API keys still work."""
    if settings.auth_jwks:
        jwks = orjson.loads(settings.auth_jwks)
        return JwtVerifier(
            TokenSettings(issuer=settings.auth_issuer, audience=settings.auth_audience, jwks=jwks)
        )
    if settings.auth_jwks_url:
        return JwtVerifier(
            TokenSettings(
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                jwks_url=settings.auth_jwks_url,
                jwks_ttl_s=settings.auth_jwks_cache_ttl_s,
                jwks_min_refetch_s=settings.auth_jwks_min_refetch_s,
                jwks_timeout_s=settings.auth_jwks_timeout_s,
            )
        )
    return None


def add_hardening(app: FastAPI, settings: ServiceSettings) -> None:
    """Outermost first: headers on every answer, then CORS, rate and size limits."""
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimitMiddleware, rate=settings.rate_limit_rps, burst=settings.rate_limit_burst
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Location", "X-Request-ID"],
        )
    app.add_middleware(SecurityHeadersMiddleware)


async def _current_principal(request: Request) -> Principal:
    # async although it awaits nothing: FastAPI runs a plain ``def`` dependency in a thread.
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise UnauthenticatedError("sign in: send a bearer token or an API key")
    assert isinstance(principal, Principal)
    return principal


# The caller, as authenticated and authorised by the app-wide guard.
PrincipalDep = Annotated[Principal, Depends(_current_principal)]
