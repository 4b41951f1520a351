"""Open311 GeoReport v2 with a real HTTP client, as an existing 311 client would call it:
form-encoded POSTs, ``.json`` and ``.xml`` paths, XML parsed with a standard parser."""

from __future__ import annotations

import itertools
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from gov_common.db import unit_of_work
from gov_common.security.api_keys import new_api_key
from gov_common.testing import TestAuth as SessionAuth
from petitions_api.cases.models import Case, Petitioner
from petitions_api.config import Settings
from petitions_api.db import ApiKey, OutboxMessage
from petitions_api.main import create_app
from petitions_api.reference.service import load_reference_data

from .helpers import act

pytestmark = pytest.mark.integration

BASE = "/open311/v2"
# The filing system's API key (role system_client), in the shared API-key table.
KEY_ID, KEY, KEY_HASH = new_api_key()
CHENLU, CHENLU_VILLAGE = "610203100", "610203100001"
_phones = itertools.count(13500000000 + uuid.uuid4().int % 10_000_000)


@pytest.fixture
async def open311_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with unit_of_work(application.state.sessions) as session:
        await load_reference_data(session, settings)
        await session.execute(
            insert(ApiKey)
            .values(
                id=KEY_ID,
                secret_sha256=KEY_HASH,
                name="市12345平台",
                roles=["system_client"],
                org_unit=None,
            )
            .on_conflict_do_nothing()
        )
    yield application
    await application.state.engine.dispose()


@pytest.fixture
async def http(open311_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An Open311 client: the filing system, its API key in the ``X-API-Key`` header on every
    request (and as ``api_key`` in the body of its POSTs, where GeoReport v2 puts it)."""
    transport = httpx.ASGITransport(open311_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://petitions", headers={"X-API-Key": KEY}
    ) as client:
        yield client


@pytest.fixture
async def staff(open311_app: FastAPI, auth: SessionAuth) -> AsyncIterator[httpx.AsyncClient]:
    """The native API as the district's staff (an admin): reads and walks the tickets."""
    transport = httpx.ASGITransport(open311_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://petitions", headers=auth.headers("admin")
    ) as client:
        yield client


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def request_form(**changes: Any) -> dict[str, str]:
    form = {
        "api_key": KEY,
        "service_code": "VILLAGE-AFFAIRS",
        "lat": "35.1234",
        "long": "109.0567",
        "address_string": "陈炉镇某村村委会门口",
        "description": f"村口路灯已坏三天，夜间出行不便。{uuid.uuid4().hex[:6]}",
        "first_name": "先生",
        "last_name": "王",
        "phone": str(next(_phones)),  # a caller of its own: no repeat unless a test wants one
        "attribute[place_unit]": CHENLU_VILLAGE,
        "media_url": "https://img.example/photos/lamp.jpg",
        "device_id": "android-42",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


async def file(http: httpx.AsyncClient, **changes: Any) -> str:
    response = await http.post(f"{BASE}/requests.json", data=request_form(**changes))
    assert response.status_code == 200, response.text
    [filed] = response.json()
    return str(filed["service_request_id"])


async def native(http: httpx.AsyncClient, case_number: str) -> dict[str, Any]:
    found = (await http.get("/v1/cases", params={"q": case_number})).json()["items"]
    assert len(found) == 1
    return dict(found[0])


async def counts(app: FastAPI) -> tuple[int, ...]:
    async with app.state.sessions() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Case, Petitioner, OutboxMessage)
            ]
        )


# ------------------------------------------------------------------- discovery, services


async def test_discovery_in_json_and_xml(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{BASE}/discovery.json")).json()
    [endpoint] = body["endpoints"]
    assert endpoint["url"] == "http://petitions/open311/v2"
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert body["changeset"] and body["contact"] and body["key_service"]

    root = xml(await http.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://petitions/open311/v2"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


async def test_services_are_the_categories(http: httpx.AsyncClient) -> None:
    services = (await http.get(f"{BASE}/services.json")).json()
    heating = next(s for s in services if s["service_code"] == "HEATING")
    assert heating["service_name"] == "供暖"
    assert heating["metadata"] is True and heating["type"] == "realtime"
    assert heating["keywords"] == "供暖,暖气" and heating["group"] == "城乡建设"

    root = xml(await http.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert codes == [s["service_code"] for s in services]
    assert root.find("service/metadata") is not None
    assert root.findtext("service/metadata") == "true"


async def test_service_definition_lists_its_attributes(http: httpx.AsyncClient) -> None:
    definition = (await http.get(f"{BASE}/services/VILLAGE-AFFAIRS.json")).json()
    assert definition["service_code"] == "VILLAGE-AFFAIRS"
    place = next(a for a in definition["attributes"] if a["code"] == "place_unit")
    assert place["datatype"] == "singlevaluelist" and place["required"] is False
    assert {"key": CHENLU_VILLAGE, "name": "陈炉镇示例村"} in place["values"]

    root = xml(await http.get(f"{BASE}/services/VILLAGE-AFFAIRS.xml"))
    assert root.tag == "service_definition"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["place_unit", "urgent"]
    keys = [v.findtext("key") for v in attributes[0].findall("values/value")]
    assert CHENLU_VILLAGE in keys and CHENLU in keys


async def test_unknown_service_and_format_are_open311_errors(http: httpx.AsyncClient) -> None:
    missing = await http.get(f"{BASE}/services/NOPE.json")
    assert missing.status_code == 404
    [error] = missing.json()
    assert error["code"] == 404 and "NOPE" in error["description"]

    root = xml(await http.get(f"{BASE}/services/NOPE.xml"))
    assert root.tag == "errors"
    assert root.findtext("error/code") == "404"
    assert "services.json" in (root.findtext("error/description") or "")

    csv = await http.get(f"{BASE}/services.csv")
    assert csv.status_code == 400 and ".json or .xml" in csv.json()[0]["description"]
    elsewhere = await http.get(f"{BASE}/tokens/abc.xml")
    assert elsewhere.status_code == 404 and xml(elsewhere).findtext("error/code") == "404"


# ------------------------------------------------------------------------ filing requests


async def test_a_form_encoded_request_becomes_a_hotline_ticket(
    http: httpx.AsyncClient, open311_app: FastAPI, staff: httpx.AsyncClient
) -> None:
    form = request_form()
    response = await http.post(f"{BASE}/requests.json", data=form)  # form-encoded, as the spec
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    [filed] = response.json()
    number = filed["service_request_id"]
    assert number.startswith("RX") and number in filed["service_notice"]

    case = await native(staff, number)
    assert (case["kind"], case["channel"], case["status"]) == (
        "hotline_ticket",
        "web",
        "registered",
    )
    assert case["category_code"] == "VILLAGE-AFFAIRS"
    assert case["place_unit_id"] == CHENLU_VILLAGE and case["town_unit_id"] == CHENLU
    assert case["handling_unit_id"] == CHENLU  # routed like any ticket: @town of the place
    assert (case["latitude"], case["longitude"]) == (35.1234, 109.0567)
    assert case["description"] == form["description"]
    assert case["attachments"][0]["url"] == "https://img.example/photos/lamp.jpg"
    assert case["deadlines"][0]["kind"] == "hotline"
    person = (await staff.get(f"/v1/cases/{case['id']}/petitioner")).json()
    assert (person["name"], person["phone"]) == ("王先生", form["phone"])
    async with open311_app.state.sessions() as session:
        stored = await session.get(Case, uuid.UUID(case["id"]))
        assert stored is not None and stored.external_ref == "android-42"
        assert stored.source_client is not None and KEY not in stored.source_client
        events = (
            await session.scalars(
                select(OutboxMessage.event_type).where(OutboxMessage.message_key == case["id"])
            )
        ).all()
    assert events == ["gov.petitions.case.created.v1"]


async def test_post_in_xml_and_repeat_detection(
    http: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    phone = "13533334444"
    text = "小区门口垃圾堆放多日无人清运，气味很大。"
    first = await file(http, phone=phone, description=text, service_code="CITY-MANAGEMENT")
    response = await http.post(
        f"{BASE}/requests.xml",
        data=request_form(phone=phone, description=text, service_code="CITY-MANAGEMENT"),
    )
    assert response.status_code == 200
    root = xml(response)
    assert root.tag == "service_requests"
    second = root.findtext("request/service_request_id")
    assert second and second != first
    assert "关联" in (root.findtext("request/service_notice") or "")
    assert root.find("request/account_id") is not None
    earlier, later = await native(staff, first), await native(staff, second)
    assert later["repeat_of"] == earlier["id"] and later["first_time"] is False


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "NOPE"}, 400, "service_code"),
        (
            {"lat": None, "long": None, "address_string": None, "attribute[place_unit]": None},
            400,
            "location",
        ),
        ({"lat": "north"}, 400, "lat"),
        ({"long": None}, 400, "lat/long"),
        ({"lat": "135"}, 400, "lat"),
        ({"phone": "call me"}, 400, "phone"),
        ({"attribute[place_unit]": "D-ZJJ"}, 400, "attribute[place_unit]"),
        ({"attribute[urgent]": "very"}, 400, "attribute[urgent]"),
        ({"description": "长" * 4001}, 400, "description"),
    ],
)
async def test_bad_requests_are_open311_errors_and_write_nothing(
    http: httpx.AsyncClient,
    open311_app: FastAPI,
    changes: dict[str, Any],
    code: int,
    words: str,
) -> None:
    before = await counts(open311_app)
    for fmt in ("json", "xml"):
        response = await http.post(f"{BASE}/requests.{fmt}", data=request_form(**changes))
        assert response.status_code == code, response.text
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == code and words in error["description"], error
        else:
            root = xml(response)
            assert root.findtext("error/code") == str(code)
            assert words in (root.findtext("error/description") or "")
    assert await counts(open311_app) == before


# ------------------------------------------------------------------------ reading requests


async def test_requests_by_id_with_status_and_notes(
    http: httpx.AsyncClient, staff: httpx.AsyncClient
) -> None:
    waiting = await file(http)
    declined = await file(http)
    done = await file(http)
    await act(
        staff, (await native(staff, declined))["id"], "decline", {"reason": "重复反映，已合并办理"}
    )
    done_id = (await native(staff, done))["id"]
    for step, body in [
        ("accept", {}),
        ("dispatch", {}),
        ("take", {}),
        ("reply", {"outcome": "supported", "reply": "已更换路灯 <LED> & 恢复照明"}),
        ("rate", {"rating": "satisfied"}),
        ("close", {}),
    ]:
        assert (await act(staff, done_id, step, body)).status_code == 200

    listed = await http.get(
        f"{BASE}/requests.json", params={"service_request_id": f"{waiting},{declined},{done}"}
    )
    by_id = {r["service_request_id"]: r for r in listed.json()}
    assert set(by_id) == {waiting, declined, done}
    assert (by_id[waiting]["status"], by_id[waiting]["status_notes"]) == (
        "open",
        "已登记，等待受理",
    )
    assert by_id[waiting]["expected_datetime"] is not None
    assert by_id[waiting]["agency_responsible"] == "陈炉镇"
    assert by_id[declined]["status"] == "closed"
    assert by_id[declined]["status_notes"] == "不予受理：重复反映，已合并办理"
    assert by_id[done]["status"] == "closed"
    assert by_id[done]["status_notes"] == "已办结：已更换路灯 <LED> & 恢复照明"
    assert by_id[done]["expected_datetime"] is None
    assert by_id[done]["requested_datetime"].endswith("+08:00")
    assert by_id[done]["lat"] == 35.1234 and by_id[done]["media_url"].endswith("lamp.jpg")

    # The same in XML, escaped so that a parser reads the text back exactly.
    root = xml(await http.get(f"{BASE}/requests/{done}.xml"))
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    assert request.findtext("service_request_id") == done
    assert request.findtext("status") == "closed"
    assert request.findtext("status_notes") == "已办结：已更换路灯 <LED> & 恢复照明"
    assert request.findtext("service_code") == "VILLAGE-AFFAIRS"
    assert request.findtext("long") == "109.0567"
    one = (await http.get(f"{BASE}/requests/{waiting}.json")).json()
    assert [r["service_request_id"] for r in one] == [waiting]


async def test_request_filters(http: httpx.AsyncClient, staff: httpx.AsyncClient) -> None:
    start = datetime.now(UTC) - timedelta(seconds=2)
    lamp = await file(http)
    smell = await file(http, service_code="ENVIRONMENT", description="夜间工厂排放刺鼻气味。")
    await act(staff, (await native(staff, smell))["id"], "decline", {"reason": "非本区管辖"})
    window = {"start_date": start.isoformat(), "end_date": (start + timedelta(hours=1)).isoformat()}

    def ids(response: httpx.Response) -> set[str]:
        assert response.status_code == 200, response.text
        return {r["service_request_id"] for r in response.json()}

    everything = ids(await http.get(f"{BASE}/requests.json", params=window))
    assert {lamp, smell} <= everything
    by_code = ids(
        await http.get(f"{BASE}/requests.json", params={**window, "service_code": "ENVIRONMENT"})
    )
    assert smell in by_code and lamp not in by_code
    both_codes = ids(
        await http.get(
            f"{BASE}/requests.json",
            params={**window, "service_code": "ENVIRONMENT,VILLAGE-AFFAIRS"},
        )
    )
    assert {lamp, smell} <= both_codes
    closed = ids(await http.get(f"{BASE}/requests.json", params={**window, "status": "closed"}))
    assert smell in closed and lamp not in closed
    opened = ids(await http.get(f"{BASE}/requests.json", params={**window, "status": "open"}))
    assert lamp in opened and smell not in opened
    before = ids(
        await http.get(
            f"{BASE}/requests.json",
            params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-01-02T00:00:00Z"},
        )
    )
    assert lamp not in before
    # Default: the last 90 days.
    assert {lamp, smell} <= ids(await http.get(f"{BASE}/requests.json"))
    root = xml(await http.get(f"{BASE}/requests.xml", params={**window, "status": "closed"}))
    assert smell in [r.findtext("service_request_id") for r in root.findall("request")]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "maybe"}, "status"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2025-12-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
    ],
)
async def test_bad_filters_are_open311_errors(
    http: httpx.AsyncClient, params: dict[str, str], words: str
) -> None:
    response = await http.get(f"{BASE}/requests.json", params=params)
    assert response.status_code == 400
    assert words in response.json()[0]["description"]
    root = xml(await http.get(f"{BASE}/requests.xml", params=params))
    assert root.findtext("error/code") == "400"


async def test_unknown_request_and_petitions_are_not_served(
    http: httpx.AsyncClient,
    staff: httpx.AsyncClient,
) -> None:
    missing = await http.get(f"{BASE}/requests/RX2026-99999999.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    # 信访 petition cases are not Open311 service requests.
    petition = await staff.post(
        "/v1/cases",
        json={
            "kind": "petition_case",
            "channel": "letter",
            "subject": "信访",
            "description": "信访事项",
            "petitioner": {"name": "李四"},
        },
    )
    number = petition.json()["case_number"]
    assert (await http.get(f"{BASE}/requests/{number}.json")).status_code == 404


async def test_xml_drops_characters_xml_cannot_carry(http: httpx.AsyncClient) -> None:
    number = await file(http, description='路灯<坏了>&\x01 "请" 修\'理')
    root = xml(await http.get(f"{BASE}/requests/{number}.xml"))
    assert root.findtext("request/description") == '路灯<坏了>& "请" 修\'理'


@pytest.mark.parametrize("api_key", [None, "wrong", "gk_0123456789abcdef_" + "A" * 43])
async def test_filing_without_a_valid_api_key_is_an_open311_401_and_writes_nothing(
    open311_app: FastAPI, api_key: str | None
) -> None:
    before = await counts(open311_app)
    transport = httpx.ASGITransport(open311_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://petitions") as anonymous:
        for fmt in ("json", "xml"):
            form = request_form(api_key=api_key)
            response = await anonymous.post(f"{BASE}/requests.{fmt}", data=form)
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer")
            if fmt == "json":
                [error] = response.json()
                assert error["code"] == 401
                assert ("API key" if api_key else "sign in") in error["description"]
            else:
                assert xml(response).findtext("error/code") == "401"
    assert await counts(open311_app) == before


async def test_an_api_key_in_a_query_string_authenticates_nothing_and_is_never_logged(
    open311_app: FastAPI, capfd: pytest.CaptureFixture[str]
) -> None:
    """A URL ends up in proxy and access logs, so the key is taken from a POST body (or the
    X-API-Key header) only: a read with ``?api_key=`` is a 401 saying where the key goes, the
    public reads answer as they do without it, and a POST with the key in its URL files
    nothing."""
    filed = request_form(api_key=None)
    before = await counts(open311_app)
    transport = httpx.ASGITransport(open311_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://petitions") as client:
        for path in (f"{BASE}/requests.json", f"{BASE}/requests/RX2026-00000001.json"):
            response = await client.get(path, params={"api_key": KEY})
            assert response.status_code == 401, (path, response.text)
            [error] = response.json()
            assert error["code"] == 401
            assert "api_key in the query string is not accepted" in error["description"]
            assert "X-API-Key" in error["description"]
        xml_refusal = await client.get(f"{BASE}/requests.xml", params={"api_key": KEY})
        assert xml(xml_refusal).findtext("error/code") == "401"
        # Discovery and the service list are public: the key changes nothing there.
        assert (await client.get(f"{BASE}/services.json", params={"api_key": KEY})).is_success
        posted = await client.post(f"{BASE}/requests.json", params={"api_key": KEY}, data=filed)
        assert posted.status_code == 401, posted.text
    assert await counts(open311_app) == before
    out, err = capfd.readouterr()
    assert "http.request" in out  # the service's logs were captured
    assert KEY not in out + err
    secret = KEY.rsplit("_", 1)[1]
    assert secret not in out + err


async def test_a_role_that_may_not_file_gets_an_open311_403(
    open311_app: FastAPI, auth: SessionAuth
) -> None:
    transport = httpx.ASGITransport(open311_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://petitions", headers=auth.headers("planner")
    ) as planner:
        form = request_form(api_key=None)
        response = await planner.post(f"{BASE}/requests.xml", data=form)
    assert response.status_code == 403
    assert xml(response).findtext("error/code") == "403"


async def test_the_filing_client_is_its_api_key_id_and_a_json_body_key_works(
    open311_app: FastAPI, staff: httpx.AsyncClient
) -> None:
    transport = httpx.ASGITransport(open311_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://petitions") as client:
        response = await client.post(f"{BASE}/requests.json", json=request_form())
    assert response.status_code == 200, response.text
    case = await native(staff, response.json()[0]["service_request_id"])
    timeline = (await staff.get(f"/v1/cases/{case['id']}/timeline")).json()
    assert timeline[0]["actor"] == f"api-key:{KEY_ID}"
