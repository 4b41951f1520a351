"""Authentication and authorisation, enforced in one place per service.

Each service declares an :class:`AccessPolicy`: for every route (method and path template),
the roles that may call it. One app-wide dependency authenticates the caller (bearer JWT or
API key), finds the matched route in the policy and answers 401 or 403 before any route code
runs. A route missing from the policy is refused to everyone (fail closed), and
:meth:`AccessPolicy.unlisted_routes` lets a test prove that none is missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.problems import ProblemError
from gov_common.security.principal import Principal, Role
from gov_common.security.tokens import InvalidTokenError, JwtVerifier, KeysUnavailableError

# Routes that answer anyone: probes, docs, and the token endpoint itself.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
        ("GET", "/openapi.json"),
        ("GET", "/.well-known/jwks.json"),
        ("POST", "/oauth/token"),
    }
)
ALL_ROLES = frozenset(Role)

ApiKeyLookup = Callable[[AsyncSession, str], Awaitable[Principal | None]]


class UnauthenticatedError(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            401,
            detail,
            problem_type="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="gov-suite"'},
        )


class SigningKeysUnavailableError(ProblemError):
    """The token may well be valid, but no key set can be trusted to check it right now."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            503, detail, problem_type="signing-keys-unavailable", headers={"Retry-After": "30"}
        )


class ForbiddenError(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail, problem_type="forbidden")


@dataclass(frozen=True)
class AccessPolicy:
    rules: Mapping[tuple[str, str], frozenset[Role]]
    public: frozenset[tuple[str, str]] = field(default=PUBLIC_ROUTES)

    def roles_for(self, method: str, path: str) -> frozenset[Role] | None:
        return self.rules.get((method.upper(), path))

    def is_public(self, method: str, path: str) -> bool:
        return (method.upper(), path) in self.public

    def unlisted_routes(self, app: FastAPI) -> list[tuple[str, str]]:
        return [k for k in route_keys(app) if k not in self.rules and k not in self.public]


_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def route_keys(app: FastAPI) -> list[tuple[str, str]]:
    """Every documented (method, path template) of the app: what a matrix test iterates.

    Read from the OpenAPI document, which lists routes however routers are nested; routes
    left out of it are refused by :func:`enforce` unless they are public.
    """
    paths = app.openapi().get("paths", {})
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method in _HTTP_METHODS
    ]


class Authenticator:
    # Where an API key goes, as a 401 tells a client that sent one in the query string.
    api_key_placement = "in the X-API-Key header"

    def __init__(
        self, verifier: JwtVerifier | None = None, api_keys: ApiKeyLookup | None = None
    ) -> None:
        self._verifier = verifier
        self._api_keys = api_keys

    async def authenticate(self, request: Request, session: AsyncSession) -> Principal | None:
        authorization = request.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            if self._verifier is None:
                raise UnauthenticatedError("bearer tokens are not accepted here")
            try:
                return await self._verifier.principal(credentials.strip())
            except InvalidTokenError as exc:
                raise UnauthenticatedError(str(exc)) from exc
            except KeysUnavailableError as exc:
                raise SigningKeysUnavailableError(str(exc)) from exc
        # Only as a header: a key in a URL ends up in proxy and access logs. (Open311 clients
        # may send theirs as a field of a POST body: petitions-api reads that one.)
        api_key = request.headers.get("x-api-key")
        if not api_key and "api_key" in request.query_params:
            raise UnauthenticatedError(
                "api_key in the query string is not accepted (URLs end up in logs): send the "
                f"key {self.api_key_placement}"
            )
        if api_key:
            principal = await self._api_keys(session, api_key) if self._api_keys else None
            if principal is None:
                raise UnauthenticatedError("API key is unknown or revoked")
            return principal
        return None


async def enforce(
    request: Request, session: AsyncSession, policy: AccessPolicy, authenticator: Authenticator
) -> Principal | None:
    """Authenticate and authorise the matched route; the principal goes on request.state."""
    route = request.scope.get("route")
    path = str(getattr(route, "path", request.url.path))
    method = request.method
    if policy.is_public(method, path):
        request.state.principal = None
        return None
    principal = await authenticator.authenticate(request, session)
    if principal is None:
        raise UnauthenticatedError("sign in: send a bearer token or an API key")
    allowed = policy.roles_for(method, path)
    if allowed is None or not principal.has_any(allowed):
        raise ForbiddenError(f"{method} {path} is not allowed for roles {sorted(principal.roles)}")
    request.state.principal = principal
    return principal
