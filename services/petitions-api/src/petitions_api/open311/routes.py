"""Open311 GeoReport v2 routes under ``/open311/v2`` (``.json`` or ``.xml`` on every path).

Errors on these routes are Open311's (a list of ``{code, description}``, in the format the
path asked for), not problem+json: :class:`Open311Route` turns every error into one. Parameters
are read from the query string and the form body by hand, so that a bad one is also answered
in Open311's format.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from gov_common.app import SessionDep
from gov_common.problems import ProblemError
from gov_common.security.setup import PrincipalDep
from petitions_api.config import Settings
from petitions_api.open311 import service
from petitions_api.open311.formats import Open311Error, check_format, render, render_errors
from petitions_api.security import scope_of

BASE_PATH = "/open311/v2"


class Open311Route(APIRoute):
    """Answers every error of an Open311 route in Open311's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            fmt = str(request.path_params.get("fmt", "json"))
            try:
                return await handler(request)
            except Open311Error as exc:
                return render_errors(fmt, [(exc.code, exc.description)], exc.code)
            except ProblemError as exc:
                # Also the guard's 401 and 403: an Open311 client reads Open311 errors.
                code = 400 if exc.status == 422 else exc.status
                response = render_errors(fmt, [(code, exc.detail)], code)
                response.headers.update(exc.headers or {})
                return response
            except RequestValidationError as exc:
                errors = [
                    (400, f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}")
                    for e in exc.errors()
                ]
                return render_errors(fmt, errors, 400)
            except StarletteHTTPException as exc:
                detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
                return render_errors(fmt, [(exc.status_code, detail)], exc.status_code)

        return answer


router = APIRouter(prefix=BASE_PATH, tags=["Open311 GeoReport v2"], route_class=Open311Route)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def base_url(request: Request) -> str:
    configured = _settings(request).open311_base_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/") + BASE_PATH


async def _params(request: Request) -> dict[str, str]:
    """The query string, overridden by a form (urlencoded or multipart) body if there is one."""
    params = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    elif content_type.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
            raise Open311Error(400, "body: not valid JSON") from None
        if not isinstance(body, dict):
            raise Open311Error(400, "body: a JSON object of GeoReport v2 parameters")
        params.update({k: str(v) for k, v in body.items() if v is not None})
    return params


@router.get(
    "/discovery.{fmt}",
    summary="Service discovery: where the endpoint is, its formats, whom to ask for a key",
)
async def discovery(fmt: str, request: Request, session: SessionDep) -> Response:
    check_format(fmt)
    body = await service.discovery(session, _settings(request), base_url(request))
    return render(fmt, "discovery", body)


@router.get("/services.{fmt}", summary="The services: the hotline's categories (事项分类)")
async def list_services(fmt: str, session: SessionDep) -> Response:
    check_format(fmt)
    return render(fmt, "services", await service.services(session))


@router.get(
    "/services/{service_code}.{fmt}",
    summary="A service definition: its attributes (the place, urgency)",
)
async def service_definition(fmt: str, service_code: str, session: SessionDep) -> Response:
    check_format(fmt)
    body = await service.service_definition(session, service_code)
    return render(fmt, "service_definition", body)


@router.post(
    "/requests.{fmt}",
    summary="File a service request: it becomes a 12345 hotline ticket",
    description=(
        "Form-encoded GeoReport v2 parameters: `api_key`, `service_code`, a location "
        "(`lat` and `long`, `address_string`, or `address_id` = a town or village code), "
        "`description`, `first_name`, `last_name`, `phone`, `media_url`, `device_id`, "
        "`attribute[place_unit]`, `attribute[urgent]`. `email` and `account_id` are not kept."
    ),
)
async def file_request(
    fmt: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    check_format(fmt)
    params = await _params(request)
    # The client is whoever the guard authenticated (its API key's id, never the key).
    filed = await service.file_request(
        session, params, settings=_settings(request), client=principal.subject
    )
    body = [
        {
            "service_request_id": filed.case.case_number,
            "service_notice": filed.notice,
            "account_id": None,
        }
    ]
    return render(fmt, "service_requests", body)


@router.get(
    "/requests.{fmt}",
    summary="Service requests (hotline tickets), newest first, at most 1,000",
    description=(
        "Filters: `service_request_id` (comma-separated; overrides the others), `service_code` "
        "(comma-separated), `start_date`, `end_date` (W3C datetimes; the last 90 days by "
        "default, at most 90 days), `status` (`open`, `closed`). The API key goes in the "
        "`X-API-Key` header: `api_key` in the query string is refused (401)."
    ),
)
async def list_requests(
    fmt: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    check_format(fmt)
    wanted = service.parse_filter(dict(request.query_params))
    found = await service.list_requests(session, wanted, scope=scope_of(principal))
    return render(fmt, "service_requests", found)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request")
async def get_request(
    fmt: str, service_request_id: str, session: SessionDep, principal: PrincipalDep
) -> Response:
    check_format(fmt)
    found = await service.get_request(session, service_request_id, scope=scope_of(principal))
    return render(fmt, "service_requests", found)


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def not_a_resource(rest: str, request: Request) -> Response:
    """Anything else under the base URL: an Open311 404, not a problem+json one."""
    fmt = "xml" if rest.endswith(".xml") else "json"
    description = (
        f"{request.method} {BASE_PATH}/{rest} is not a GeoReport v2 resource; see discovery.json"
    )
    return render_errors(fmt, [(404, description)], 404)
