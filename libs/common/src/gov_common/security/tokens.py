"""Bearer JWTs: verification against a configurable issuer, audience and keys (JWKS), and a
small built-in issuer for machine clients and for people where no identity provider exists.

Verification accepts RS256 and ES256 only, requires ``exp``, ``iss``, ``aud`` and ``sub``, and
looks keys up by ``kid`` so keys can rotate: publish the new key in the JWKS beside the old
one, start signing with it, and drop the old one after the longest token lifetime. Keys from a
JWKS URL are trusted for a bounded time (:mod:`gov_common.security.jwks`): a dropped key is
refused within ``GOV_AUTH_JWKS_CACHE_TTL_S``.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK, PyJWKSet

from gov_common.security.jwks import JwksCache, KeysUnavailableError, TrustedKey
from gov_common.security.principal import AuthMethod, Principal, Role

__all__ = [
    "ALGORITHMS",
    "InvalidTokenError",
    "JwtVerifier",
    "KeysUnavailableError",
    "SigningKey",
    "TokenIssuer",
    "TokenSettings",
]

ALGORITHMS = ("RS256", "ES256")


class InvalidTokenError(Exception):
    """The token cannot be trusted; the message says why (safe to show the caller)."""


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    # Either a JWKS document (dict) or the URL of one; keys are looked up by ``kid``.
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None
    leeway_s: int = 30
    # A JWKS URL's keys: trusted this long after the fetch that returned them; fetched again
    # for an unknown kid at most once per min_refetch_s; each fetch times out after timeout_s.
    jwks_ttl_s: float = 300.0
    jwks_min_refetch_s: float = 30.0
    jwks_timeout_s: float = 5.0


class JwtVerifier:
    """Verifies bearer tokens. A client sends the same token with every request until it
    expires, so :meth:`principal` remembers a verified token (by its exact text, signature
    included) for at most ``remember_s`` seconds, never past its ``exp`` (plus leeway) and
    never past the time its key is trusted: the signature check is the costliest step of a
    request, and remembering must not stretch a dropped key's life beyond the JWKS cache's."""

    def __init__(
        self,
        settings: TokenSettings,
        *,
        remember_s: float = 30.0,
        remember_max: int = 1024,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if (settings.jwks is None) == (settings.jwks_url is None):
            raise ValueError("configure exactly one of a JWKS document or a JWKS URL")
        self._settings = settings
        self._remember_s = remember_s
        self._remember_max = remember_max
        self._clock = clock
        # token → (principal, until): verified tokens, oldest first.
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._keys: dict[str, PyJWK] = {}
        self.jwks: JwksCache | None = None
        if settings.jwks is not None:
            self._keys = {
                k.key_id: k for k in PyJWKSet.from_dict(dict(settings.jwks)).keys if k.key_id
            }
        else:
            assert settings.jwks_url is not None
            self.jwks = JwksCache(
                settings.jwks_url,
                ttl_s=settings.jwks_ttl_s,
                min_refetch_s=settings.jwks_min_refetch_s,
                timeout_s=settings.jwks_timeout_s,
                clock=clock,
                transport=transport,
            )

    async def _key_for(self, token: str) -> TrustedKey:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidTokenError("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidTokenError(f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidTokenError("token names no signing key (kid)")
        if self.jwks is not None:
            try:
                return await self.jwks.key(kid)
            except LookupError as exc:
                raise InvalidTokenError("signing key not found") from exc
        if kid not in self._keys:
            raise InvalidTokenError("signing key not found")
        return TrustedKey(self._keys[kid].key, math.inf)

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises :class:`InvalidTokenError` (or
        :class:`KeysUnavailableError` when no key set can be trusted right now)."""
        return (await self._verify(token))[0]

    async def _verify(self, token: str) -> tuple[dict[str, Any], float]:
        trusted = await self._key_for(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=trusted.key,
                algorithms=list(ALGORITHMS),
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidTokenError("token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidTokenError("token is from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidTokenError("signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"invalid token: {exc}") from exc
        return claims, trusted.until

    async def principal(self, token: str) -> Principal:
        now = self._clock()
        remembered = self._verified.get(token)
        if remembered is not None:
            if now <= remembered[1]:
                return remembered[0]
            self._verified.pop(token, None)
        claims, key_trusted_until = await self._verify(token)
        principal = self._principal(claims)
        if self._remember_s > 0:
            until = min(
                now + self._remember_s,
                float(claims["exp"]) + self._settings.leeway_s,
                key_trusted_until,
            )
            if len(self._verified) >= self._remember_max:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = (principal, until)
        return principal

    @staticmethod
    def _principal(claims: dict[str, Any]) -> Principal:
        try:
            roles = frozenset(Role(r) for r in claims.get("roles", []))
        except ValueError as exc:
            raise InvalidTokenError("token names an unknown role") from exc
        scopes = frozenset(str(claims.get("scope", "")).split())
        return Principal(
            subject=str(claims["sub"]),
            roles=roles,
            org_unit=claims.get("org_unit"),
            method=AuthMethod.JWT,
            scopes=scopes,
        )


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: bytes

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(kid or uuid.uuid4().hex[:12], pem)


class TokenIssuer:
    """Signs short-lived ES256 tokens with the first key; publishes every key's public half."""

    def __init__(
        self, *, issuer: str, audience: str, keys: Sequence[SigningKey], ttl_s: int = 3600
    ) -> None:
        if not keys:
            raise ValueError("the issuer needs at least one signing key")
        self._issuer = issuer
        self._audience = audience
        self._keys = list(keys)
        self._ttl = ttl_s

    def issue(
        self,
        subject: str,
        roles: Sequence[Role],
        *,
        org_unit: str | None = None,
        scope: str = "",
        now: int | None = None,
        ttl_s: int | None = None,
    ) -> str:
        issued = int(time.time()) if now is None else now
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "iat": issued,
            "exp": issued + (self._ttl if ttl_s is None else ttl_s),
            "jti": uuid.uuid4().hex,
            "roles": [r.value for r in roles],
        }
        if org_unit is not None:
            claims["org_unit"] = org_unit
        if scope:
            claims["scope"] = scope
        key = self._keys[0]
        return jwt.encode(claims, key.private_pem, algorithm="ES256", headers={"kid": key.kid})

    def jwks(self) -> dict[str, Any]:
        public = []
        for key in self._keys:
            private = serialization.load_pem_private_key(key.private_pem, password=None)
            if not isinstance(private, ec.EllipticCurvePrivateKey):
                raise ValueError(f"signing key {key.kid} is not an EC key (ES256)")
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
            public.append({**jwk, "kid": key.kid, "use": "sig", "alg": "ES256"})
        return {"keys": public}
