"""Open311 GeoReport v2 over the petitions service: categories are services, hotline tickets
are service requests. Filing goes through the same intake function as the native API
(``cases.registration.register_case``): same validation, routing, repeat detection and outbox event.

Every read takes ``scope`` (the caller's org unit: only tickets placed or handled in its
subtree, as everywhere in this service), which the routes pass from the principal. Filing
clients are authenticated by the app-wide guard: an API key from the shared table, sent as
the ``api_key`` field of a POST body or in the ``X-API-Key`` header (never from a query
string), or a bearer token.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from gov_common.clock import CHINA_TZ
from gov_common.events.petitions import CaseKind, Channel, DeadlineKind, Rating
from petitions_api.cases import registration
from petitions_api.cases.lifecycle import CaseStatus
from petitions_api.cases.models import Case, TimelineEntry
from petitions_api.cases.schemas import CaseCreate
from petitions_api.cases.scope import scope_condition
from petitions_api.config import Settings
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.open311.formats import Open311Error
from petitions_api.reference.models import Category, OrgUnit, ReferenceVersion, UnitLevel

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
DEFAULT_WINDOW = timedelta(days=90)  # GeoReport v2: requests of the last 90 days by default
MAX_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
OPEN_STATUSES = frozenset(
    {
        CaseStatus.REGISTERED,
        CaseStatus.ACCEPTED,
        CaseStatus.DISPATCHED,
        CaseStatus.IN_PROGRESS,
        CaseStatus.REPLIED,
        CaseStatus.RATED,
    }
)
PLACE_ATTRIBUTE, URGENT_ATTRIBUTE = "place_unit", "urgent"
RATING_NAMES = {
    Rating.SATISFIED: "满意",
    Rating.BASICALLY_SATISFIED: "基本满意",
    Rating.DISSATISFIED: "不满意",
}


# -------------------------------------------------------------------------- discovery


async def discovery(session: AsyncSession, settings: Settings, base_url: str) -> dict[str, Any]:
    loaded = await session.scalar(select(func.max(ReferenceVersion.loaded_at)))
    changeset = _w3c(loaded or datetime(2026, 1, 1, tzinfo=UTC))
    return {
        "changeset": changeset,
        "contact": settings.open311_contact,
        "key_service": settings.open311_key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base_url,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


# --------------------------------------------------------------------------- services


async def services(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(Category).where(Category.active.is_(True)).order_by(Category.position)
    )
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.description or c.name,
            "metadata": True,  # every service has the place and urgency attributes
            "type": "realtime",  # a request becomes a ticket at once, with its id
            "keywords": ",".join(c.keywords or []),
            "group": c.group or "",
        }
        for c in rows.all()
    ]


async def _category(session: AsyncSession, code: str | None, *, status: int) -> Category:
    if not code:
        raise Open311Error(400, "service_code: required; see services.json")
    category = await session.get(Category, code)
    if category is None or not category.active:
        raise Open311Error(status, f"service_code: {code!r} is not a service; see services.json")
    return category


async def _places(session: AsyncSession) -> list[OrgUnit]:
    rows = await session.scalars(
        select(OrgUnit)
        .where(OrgUnit.active.is_(True), OrgUnit.level.in_([UnitLevel.TOWN, UnitLevel.VILLAGE]))
        .order_by(OrgUnit.path)
    )
    return list(rows.all())


async def service_definition(session: AsyncSession, code: str) -> dict[str, Any]:
    category = await _category(session, code, status=404)
    places = await _places(session)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": PLACE_ATTRIBUTE,
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "镇办或村/社区 (town/sub-district or village/community)",
                "order": 1,
                "description": "事发地: where the matter is; routes the ticket (属地管理)",
                "values": [{"key": u.code, "name": u.name} for u in places],
            },
            {
                "variable": True,
                "code": URGENT_ATTRIBUTE,
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "true or false",
                "order": 2,
                "description": "紧急: an urgent matter runs on the urgent time limit (hours)",
                "values": [{"key": "false", "name": "一般"}, {"key": "true", "name": "紧急"}],
            },
        ],
    }


# ------------------------------------------------------------------- filing a request


# Where an intake field came from in the Open311 request, for error messages.
_FIELD_NAMES = {
    "subject": "description",
    "description": "description",
    "petitioner.name": "first_name/last_name",
    "petitioner.phone": "phone",
    "place.address": "address_string",
    "place.latitude": "lat",
    "place.longitude": "long",
    "place": "lat/long",
    "attachments.0.url": "media_url",
    "attachments.0.file_name": "media_url",
}


@dataclass(frozen=True)
class Filed:
    case: Case
    notice: str


def _float(params: Mapping[str, str], name: str) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise Open311Error(400, f"{name}: {raw!r} is not a number (WGS84 degrees)") from None


async def _place_unit(session: AsyncSession, params: Mapping[str, str]) -> str | None:
    from_attribute = (params.get(f"attribute[{PLACE_ATTRIBUTE}]") or "").strip() or None
    from_address_id = (params.get("address_id") or "").strip() or None
    if from_attribute and from_address_id and from_attribute != from_address_id:
        raise Open311Error(
            400,
            f"attribute[{PLACE_ATTRIBUTE}] and address_id name different places; give one",
        )
    code = from_attribute or from_address_id
    if code is None:
        return None
    unit = await session.get(OrgUnit, code)
    if unit is None or not unit.active or unit.level not in (UnitLevel.TOWN, UnitLevel.VILLAGE):
        name = f"attribute[{PLACE_ATTRIBUTE}]" if from_attribute else "address_id"
        raise Open311Error(
            400, f"{name}: {code!r} is not a town or village code; see the service definition"
        )
    return unit.code


def _subject(description: str, service_name: str) -> str:
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    if not first_line:
        return service_name
    return first_line if len(first_line) <= 60 else first_line[:59] + "…"


def _attachment(media_url: str) -> dict[str, Any]:
    path = urlsplit(media_url).path
    file_name = path.rsplit("/", 1)[-1] or "media"
    content_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
    # Only the link is known: the size is not, recorded as 0.
    return {
        "file_name": file_name[:200],
        "content_type": content_type,
        "size_bytes": 0,
        "url": media_url,
    }


async def file_request(
    session: AsyncSession,
    params: Mapping[str, str],
    *,
    settings: Settings,
    client: str,
) -> Filed:
    """``POST requests``: a hotline ticket (12345 工单) through the native intake."""
    category = await _category(session, params.get("service_code"), status=400)
    latitude, longitude = _float(params, "lat"), _float(params, "long")
    address = (params.get("address_string") or "").strip() or None
    place_unit = await _place_unit(session, params)
    if latitude is None and longitude is None and address is None and place_unit is None:
        raise Open311Error(
            400, "location: give lat and long, address_string, or address_id (a place code)"
        )
    urgent_raw = (params.get(f"attribute[{URGENT_ATTRIBUTE}]") or "false").strip().lower()
    if urgent_raw not in ("true", "false"):
        raise Open311Error(400, f"attribute[{URGENT_ATTRIBUTE}]: give true or false")
    description = (params.get("description") or "").strip()
    if len(description) > 4000:
        raise Open311Error(400, "description: at most 4,000 characters (GeoReport v2)")
    first, last = (params.get("first_name") or "").strip(), (params.get("last_name") or "").strip()
    phone = (params.get("phone") or "").strip() or None
    petitioner = None
    if first or last or phone:
        # Chinese order: family name first. A caller who left only a phone stays unnamed.
        petitioner = {"name": (last + first) or "未留姓名", "phone": phone}
    media_url = (params.get("media_url") or "").strip() or None
    body: dict[str, Any] = {
        "kind": CaseKind.HOTLINE_TICKET.value,
        "channel": Channel.WEB.value,
        "subject": _subject(description, category.name),
        "description": description or category.name,
        "category_code": category.code,
        "petitioner": petitioner,
        "place": {
            "unit_id": place_unit,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
        },
        "urgent": urgent_raw == "true",
        "attachments": [_attachment(media_url)] if media_url else [],
    }
    try:
        data = CaseCreate.model_validate(body)
    except ValidationError as exc:
        reasons = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"])
            name = _FIELD_NAMES.get(location, location)
            reasons.append(f"{name}: {error['msg']}")
        raise Open311Error(400, "; ".join(reasons)) from None
    device_id = (params.get("device_id") or "").strip()[:100] or None
    case = await registration.register_case(
        session,
        data,
        settings=settings,
        actor=client,
        source_client=client,
        external_ref=device_id,
    )
    notice = f"已登记为12345工单 {case.case_number}"
    if case.repeat_of is not None:
        notice += "；与此前反映的同一事项关联办理"
    return Filed(case=case, notice=notice)


# ------------------------------------------------------------------- reading requests


@dataclass(frozen=True)
class RequestFilter:
    service_request_ids: list[str] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


def _parse_datetime(name: str, value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Open311Error(
            400, f"{name}: {value!r} is not a W3C datetime like 2026-11-01T00:00:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ)  # a bare time is the district's time
    return parsed


def parse_filter(params: Mapping[str, str]) -> RequestFilter:
    statuses = _split(params.get("status"))
    for status in statuses or []:
        if status not in ("open", "closed"):
            raise Open311Error(400, f"status: {status!r} is not open or closed")
    start = _parse_datetime("start_date", params.get("start_date"))
    end = _parse_datetime("end_date", params.get("end_date"))
    if start and end and end < start:
        raise Open311Error(400, "end_date: before start_date")
    if start and end and end - start > MAX_WINDOW:
        raise Open311Error(400, f"end_date: a query spans at most {MAX_WINDOW.days} days")
    return RequestFilter(
        service_request_ids=_split(params.get("service_request_id")),
        service_codes=_split(params.get("service_code")),
        start=start,
        end=end,
        statuses=statuses,
    )


async def _scoped(session: AsyncSession, statement: Any, scope: str | None) -> Any:
    in_scope = await scope_condition(session, scope)
    return statement if in_scope is None else statement.where(in_scope)


async def list_requests(
    session: AsyncSession,
    wanted: RequestFilter,
    *,
    scope: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``GET requests``: hotline tickets, newest first, at most 1,000."""
    statement = select(Case).where(Case.kind == CaseKind.HOTLINE_TICKET)
    if wanted.service_request_ids:
        # GeoReport v2: a list of ids overrides every other filter.
        statement = statement.where(Case.case_number.in_(wanted.service_request_ids))
    else:
        end = wanted.end or (now or datetime.now(UTC))
        start = wanted.start or end - DEFAULT_WINDOW
        if end - start > MAX_WINDOW:
            raise Open311Error(400, f"start_date: a query spans at most {MAX_WINDOW.days} days")
        statement = statement.where(Case.created_at >= start, Case.created_at <= end)
        if wanted.service_codes:
            statement = statement.where(Case.category_code.in_(wanted.service_codes))
        if wanted.statuses and len(set(wanted.statuses)) == 1:
            closed = {CaseStatus.CLOSED, CaseStatus.DECLINED}
            states = OPEN_STATUSES if wanted.statuses[0] == "open" else closed
            statement = statement.where(Case.status.in_(states))
    statement = await _scoped(session, statement, scope)
    rows = (
        await session.scalars(
            statement.order_by(Case.created_at.desc(), Case.id.desc()).limit(MAX_REQUESTS)
        )
    ).all()
    return await _views(session, list(rows))


async def get_request(
    session: AsyncSession, service_request_id: str, *, scope: str | None = None
) -> list[dict[str, Any]]:
    statement = select(Case).where(
        Case.kind == CaseKind.HOTLINE_TICKET, Case.case_number == service_request_id
    )
    case = await session.scalar(await _scoped(session, statement, scope))
    if case is None:
        raise Open311Error(404, f"service_request_id: {service_request_id!r} was not found")
    return await _views(session, [case])


async def _views(session: AsyncSession, rows: list[Case]) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [c.id for c in rows]
    categories = {
        code: name
        for code, name in (
            await session.execute(
                select(Category.code, Category.name).where(
                    Category.code.in_({c.category_code for c in rows if c.category_code})
                )
            )
        ).all()
    }
    units = {
        code: name
        for code, name in (
            await session.execute(
                select(OrgUnit.code, OrgUnit.name).where(
                    OrgUnit.code.in_({c.handling_unit_id for c in rows if c.handling_unit_id})
                )
            )
        ).all()
    }
    # The latest reply or decline of each case: what status_notes tells the citizen.
    last_words_query = (
        select(TimelineEntry)
        .where(TimelineEntry.case_id.in_(ids), TimelineEntry.action.in_(["reply", "decline"]))
        .order_by(TimelineEntry.case_id, TimelineEntry.id.desc())
        .ext(distinct_on(TimelineEntry.case_id))
    )
    last_words: dict[uuid.UUID, TimelineEntry] = {
        entry.case_id: entry for entry in (await session.scalars(last_words_query)).all()
    }
    expected = dict(
        (
            await session.execute(
                select(CaseDeadline.case_id, func.max(CaseDeadline.due_at))
                .where(
                    CaseDeadline.case_id.in_(ids),
                    CaseDeadline.kind == DeadlineKind.HOTLINE,
                    CaseDeadline.met_at.is_(None),
                    CaseDeadline.cancelled_at.is_(None),
                )
                .group_by(CaseDeadline.case_id)
            )
        ).all()
    )
    return [_view(c, categories, units, last_words.get(c.id), expected.get(c.id)) for c in rows]


def _w3c(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat(timespec="seconds")


def status_notes(case: Case, unit_name: str | None, last: TimelineEntry | None) -> str:
    replied = last is not None and last.action == "reply"
    reply = str(last.details.get("reply", "")) if last is not None and replied else ""
    unit = unit_name or "承办单位"
    match case.status:
        case CaseStatus.REGISTERED:
            return "已登记，等待受理"
        case CaseStatus.ACCEPTED:
            return "已受理，等待派单"
        case CaseStatus.DISPATCHED:
            return f"已派单至{unit}，等待签收"
        case CaseStatus.IN_PROGRESS:
            return f"{unit}办理中"
        case CaseStatus.REPLIED:
            return f"{unit}已答复：{reply}" if reply else f"{unit}已答复"
        case CaseStatus.RATED:
            rating = RATING_NAMES.get(case.rating, "") if case.rating else ""
            return f"已回访（{rating}），等待办结" if rating else "已回访，等待办结"
        case CaseStatus.CLOSED:
            return f"已办结：{reply}" if reply else "已办结"
        case CaseStatus.DECLINED:
            reason = last.reason if last is not None and last.action == "decline" else None
            return f"不予受理：{reason}" if reason else "不予受理"
    return str(case.status)


def _view(
    case: Case,
    categories: Mapping[str, str],
    units: Mapping[str, str],
    last: TimelineEntry | None,
    expected: datetime | None,
) -> dict[str, Any]:
    unit_name = units.get(case.handling_unit_id) if case.handling_unit_id else None
    media = next((a.get("url") for a in case.attachments if a.get("url")), None)
    return {
        "service_request_id": case.case_number,
        "status": "open" if case.status in OPEN_STATUSES else "closed",
        "status_notes": status_notes(case, unit_name, last),
        "service_name": categories.get(case.category_code or "", ""),
        "service_code": case.category_code or "",
        "description": case.description,
        "agency_responsible": unit_name or "",
        "service_notice": "",
        "requested_datetime": _w3c(case.created_at),
        "updated_datetime": _w3c(case.updated_at),
        "expected_datetime": _w3c(expected) if expected else None,
        "address": case.place_address or "",
        "address_id": case.place_unit_id or "",
        "zipcode": None,
        "lat": case.latitude,
        "long": case.longitude,
        "media_url": media,
    }
