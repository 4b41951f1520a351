"""The deadline sweep emits due-soon and overdue once per clock and threshold, never twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from gov_common.db import unit_of_work
from petitions_api.db import OutboxMessage
from petitions_api.deadlines.models import CaseDeadline
from petitions_api.deadlines.service import sweep
from petitions_api.deadlines.sweeper import DeadlineSweeper

from .helpers import accept_petition, create, petition

pytestmark = pytest.mark.integration


async def _alerts(app: FastAPI, case_id: str) -> list[dict[str, object]]:
    async with app.state.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.message_key == case_id)
                .where(
                    OutboxMessage.event_type.in_(
                        [
                            "gov.petitions.case.due_soon.v1",
                            "gov.petitions.case.overdue.v1",
                        ]
                    )
                )
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [{"type": r.event_type, **orjson.loads(r.payload)} for r in rows]


async def _sweep(app: FastAPI, now: datetime) -> None:
    async with unit_of_work(app.state.sessions) as session:
        await sweep(session, app.state.settings, now=now)


async def test_due_soon_then_overdue_each_once(client: httpx.AsyncClient, app: FastAPI) -> None:
    case = await create(client, petition())
    due_at = datetime(2030, 1, 10, 16, 0, tzinfo=UTC)  # far from any other test's clocks
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(CaseDeadline)
            .where(CaseDeadline.case_id == uuid.UUID(case["id"]))
            .values(due_at=due_at)
        )

    await _sweep(app, due_at - timedelta(hours=100))  # nothing yet
    assert await _alerts(app, case["id"]) == []
    await _sweep(app, due_at - timedelta(hours=50))  # inside 72h
    await _sweep(app, due_at - timedelta(hours=49))
    await _sweep(app, due_at - timedelta(hours=10))  # inside 24h
    await _sweep(app, due_at - timedelta(hours=9))
    await _sweep(app, due_at + timedelta(minutes=1))  # overdue
    await _sweep(app, due_at + timedelta(days=3))

    alerts = await _alerts(app, case["id"])
    assert [(a["type"].split(".")[3], a["threshold"]) for a in alerts] == [
        ("due_soon", "72h"),
        ("due_soon", "24h"),
        ("overdue", "0"),
    ]
    # a registered 信访 case runs one clock: the registry's 15 days to forward it (第二十二条)
    assert all(a["deadline"] == "forwarding" for a in alerts)
    assert alerts[0]["due_at"].startswith("2030-01-10T16:00:00")


async def test_a_late_first_sweep_announces_only_the_tightest_threshold(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    case = await create(client, petition())
    due_at = datetime(2031, 5, 1, tzinfo=UTC)
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(CaseDeadline)
            .where(CaseDeadline.case_id == uuid.UUID(case["id"]))
            .values(due_at=due_at)
        )
    await _sweep(app, due_at + timedelta(hours=1))
    await _sweep(app, due_at + timedelta(hours=2))
    alerts = await _alerts(app, case["id"])
    assert [a["threshold"] for a in alerts] == ["0"]


async def test_a_met_clock_raises_no_alert(client: httpx.AsyncClient, app: FastAPI) -> None:
    case = await create(client, petition())
    await accept_petition(client, case["id"])  # forwarding and acceptance clocks are met
    async with unit_of_work(app.state.sessions) as session:
        await session.execute(
            update(CaseDeadline)
            .where(CaseDeadline.case_id == uuid.UUID(case["id"]))
            .values(due_at=datetime(2032, 1, 1, tzinfo=UTC))
        )
    await _sweep(app, datetime(2032, 1, 2, tzinfo=UTC))
    alerts = await _alerts(app, case["id"])
    assert [a["deadline"] for a in alerts] == ["handling"]  # the met clocks are quiet


async def test_the_sweeper_worker_runs_and_stops(app: FastAPI) -> None:
    sweeper: DeadlineSweeper = app.state.sweeper
    result = await sweeper.sweep_once()
    assert result.due_soon >= 0 and result.overdue >= 0
    sweeper.stop()
    await sweeper.run()  # returns at once when stopped
