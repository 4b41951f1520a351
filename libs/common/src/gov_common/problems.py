"""RFC 9457 problem details for every error a service returns.

Bad input gets a 4xx whose body names each field at fault and what to fix.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE_URI = "https://gov-suite.example/problems/"

log = structlog.get_logger(__name__)


class InvalidParam(BaseModel):
    name: str
    reason: str


class Problem(BaseModel):
    """The body of an error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    invalid_params: list[InvalidParam] | None = None


class ProblemError(Exception):
    """Raise from a service or route to answer with a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problem_type: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = problem_type
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers
        self.extra = extra or {}


class NotFoundError(ProblemError):
    def __init__(self, what: str, identifier: object) -> None:
        super().__init__(404, f"{what} {identifier} does not exist", problem_type="not-found")


def problem_response(
    request: Request,
    status: int,
    *,
    detail: str | None,
    title: str | None = None,
    problem_type: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE_URI + problem_type if problem_type else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "subject") → "subject"; ("query", "limit") → "limit"; list indexes kept.
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        params = [
            {"name": _field_name(error["loc"]), "reason": error["msg"]} for error in exc.errors()
        ]
        names = ", ".join(dict.fromkeys(p["name"] for p in params))
        return problem_response(
            request,
            422,
            title="Request validation failed",
            detail=f"invalid field(s): {names}",
            problem_type="validation-error",
            extra={"invalid_params": params},
        )

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(
            request,
            exc.status,
            detail=exc.detail,
            title=exc.title,
            problem_type=exc.problem_type,
            headers=exc.headers,
            extra=exc.extra,
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            request,
            exc.status_code,
            detail=str(exc.detail) if exc.detail else None,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        problem = database_problem(exc)
        if problem is None:
            return await on_unexpected(request, exc)
        status, problem_type, detail, headers = problem
        log.warning("http.database_error", path=request.url.path, problem_type=problem_type)
        return problem_response(
            request, status, detail=detail, problem_type=problem_type, headers=headers
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path)
        return problem_response(
            request, 500, detail="internal error; see the logs for the request id"
        )

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(ConnectionError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)


# SQLSTATEs of text PostgreSQL cannot store: a NUL (U+0000) in text or in JSON.
_UNSTORABLE_TEXT = {"22021", "22P05"}
# The database is away or restarting (connection exceptions, operator intervention).
_UNAVAILABLE_PREFIXES = ("08", "57P")


def database_problem(exc: Exception) -> tuple[int, str, str, dict[str, str] | None] | None:
    """What to tell the caller about a database error that is not the service's fault, or
    None for a real internal error."""
    if isinstance(exc, ConnectionError) or (
        isinstance(exc, DBAPIError)
        and (exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError))
    ):
        return (
            503,
            "database-unavailable",
            "the database is not reachable just now; nothing was saved, try again shortly",
            {"Retry-After": "5"},
        )
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if sqlstate in _UNSTORABLE_TEXT:
        return (
            422,
            "unstorable-text",
            "the text contains a character that cannot be stored (such as U+0000): remove it",
            None,
        )
    if sqlstate.startswith(_UNAVAILABLE_PREFIXES):
        return (
            503,
            "database-unavailable",
            "the database is not reachable just now; nothing was saved, try again shortly",
            {"Retry-After": "5"},
        )
    return None


# For OpenAPI: document the problem body on error responses.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": HTTPStatus(status).phrase,
    }
    for status in (400, 404, 409, 422)
}
