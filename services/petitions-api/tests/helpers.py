"""Request bodies and small helpers shared by the petitions tests."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from gov_common.clock import today_in_china
from gov_common.db import unit_of_work
from gov_common.testing import Infrastructure, TestAuth, create_database, drop_database, migrate
from petitions_api.config import Settings
from petitions_api.main import create_app
from petitions_api.reference.service import load_reference_data

_phones = itertools.count(13900000000)

# The subject of the ``client`` fixture's token: who acts, on the timeline.
ACTOR_ID = "operator-1"


def petition(**changes: Any) -> dict[str, Any]:
    """A 信访 petition about heating in 城关街道, from a petitioner of its own."""
    body: dict[str, Any] = {
        "kind": "petition_case",
        "channel": "letter",
        "subject": "小区供暖温度不达标",
        "description": "城关街道某小区连续一周室温低于18度，多次反映无果。",
        "category_code": "HEATING",
        "petitioner": {
            "name": "李四",
            "phone": str(next(_phones)),
            "id_number": "11010519491231002X",
            "address": "城关街道某小区3号楼",
        },
        "place": {"unit_id": "610203001001", "address": "某小区3号楼"},
    }
    body["petitioner"]["id_number"] = None
    body.update(changes)
    return body


def hotline(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "hotline_ticket",
        "channel": "hotline_call",
        "subject": "陈炉镇路灯不亮",
        "description": "陈炉镇某村主干道路灯三晚未亮。",
        "category_code": "VILLAGE-AFFAIRS",
        "place": {"unit_id": "610203100001"},
    }
    body.update(changes)
    return body


def action_body(action: str) -> dict[str, Any]:
    """A valid body for each action."""
    return {
        "accept": {"notice": {"means": "post"}},
        "decline": {
            "reason": "属于民事纠纷，已告知通过诉讼途径解决",
            "route": "litigation",
            "notice": {"means": "post"},
        },
        "dispatch": {},
        "take": {},
        "return": {"reason": "非本单位职责"},
        "approve_return": {"to_unit_id": "D-ZJJ"},
        "refuse_return": {"reason": "属于本单位职责，请依法办理"},
        "reply": {"outcome": "supported", "reply": "已协调供热公司整改，室温已达标"},
        "rate": {"rating": "dissatisfied"},
        "close": {},
        "reopen": {"reason": "回访不满意，重新办理"},
        "extend": {"days": 30, "reason": "需要第三方检测"},
        "request_extension": {"days": 30, "reason": "需要第三方检测"},
        "approve_extension": {"notice": {"means": "post"}},
        "refuse_extension": {"reason": "理由不充分，请按期办结"},
        "supervise": {"due_on": (today_in_china() + timedelta(days=5)).isoformat()},
        "escalate": {"to_unit_id": "610203", "reason": "涉及多个部门，提级办理"},
        "request_review": {"reason": "对答复意见不服，申请复查"},
    }[action]


async def act(
    client: httpx.AsyncClient,
    case_id: str,
    action: str,
    body: dict[str, Any] | None = None,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        f"/v1/cases/{case_id}/actions/{action}",
        json=action_body(action) if body is None else body,
        headers=headers,
    )


async def create(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = await client.post("/v1/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# The steps that bring a new case to a state: a 12345 ticket (accepted, then dispatched and
# taken) and a 信访 case (forwarded, then accepted by the organ: 第二十二条).
PATHS: dict[str, list[str]] = {
    "registered": [],
    "declined": ["decline"],
    "accepted": ["accept"],
    "dispatched": ["accept", "dispatch"],
    "in_progress": ["accept", "dispatch", "take"],
    "replied": ["accept", "dispatch", "take", "reply"],
    "rated": ["accept", "dispatch", "take", "reply", "rate"],
    "closed": ["accept", "dispatch", "take", "reply", "rate", "close"],
}
PETITION_PATHS: dict[str, list[str]] = {
    "registered": [],
    "declined": ["decline"],
    "dispatched": ["dispatch"],
    "in_progress": ["dispatch", "accept"],
    "replied": ["dispatch", "accept", "reply"],
    "rated": ["dispatch", "accept", "reply", "rate"],
    "closed": ["dispatch", "accept", "reply", "rate", "close"],
}


async def case_in(
    client: httpx.AsyncClient, state: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    case = await create(client, body or petition())
    paths = PETITION_PATHS if case["kind"] == "petition_case" else PATHS
    for step in paths[state]:
        response = await act(client, case["id"], step)
        assert response.status_code == 200, (step, response.text)
        case = response.json()
    assert case["status"] == state
    return case


async def accept_petition(client: httpx.AsyncClient, case_id: str) -> dict[str, Any]:
    """A registered 信访 case forwarded by the registry and accepted by the unit, with the
    written notice (第二十二条): its 60-day handling clock starts today."""
    for step in ("dispatch", "accept"):
        response = await act(client, case_id, step)
        assert response.status_code == 200, (step, response.text)
    return response.json()


@asynccontextmanager
async def own_database(
    infrastructure: Infrastructure, auth: TestAuth, prefix: str
) -> AsyncIterator[Settings]:
    """Settings for a migrated database of the caller's own (dropped at the end): for tests
    that count every case in the database, so no other test's cases may be there."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = infrastructure.admin_url("petitions")
    await create_database(admin, name)
    url = str(make_url(infrastructure.database_urls["petitions"]).set(database=name))
    try:
        await asyncio.to_thread(migrate, "petitions", url)
        yield Settings.model_validate(
            {
                **auth.settings_env,
                "PETITIONS_DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
                "GOV_ENVIRONMENT": "test",
            }
        )
    finally:
        await drop_database(admin, name)


@asynccontextmanager
async def app_with_reference_data(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app without its lifespan, the reference data loaded."""
    application = create_app(settings)
    async with unit_of_work(application.state.sessions) as session:
        await load_reference_data(session, settings)
    yield application
    await application.state.engine.dispose()
