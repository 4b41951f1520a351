"""From an event to deliveries, and deliveries to receivers: retries, final failure with its
reason, manual retry, quiet hours, outcome events in the outbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from opentelemetry import trace
from sqlalchemy import select, update

from gov_common.clock import CHINA_TZ
from gov_common.db import unit_of_work
from gov_common.events import CloudEvent, new_event, parse_payload
from gov_common.events.notifier import DELIVERY_FAILED_V1, DELIVERY_SUCCEEDED_V1
from gov_common.events.petitions import (
    CASE_OVERDUE_V1,
    CASE_REQUEST_OPENED_V1,
    CaseOverdueV1,
    CaseRequestOpenedV1,
)
from notifier.config import Settings
from notifier.db import OutboxMessage
from notifier.deliveries import planning
from notifier.deliveries.dispatcher import DeliveryDispatcher
from notifier.deliveries.models import Delivery, DeliveryStatus
from notifier.deliveries.ratelimit import TokenBucket
from notifier.deliveries.service import SendNow
from notifier.privacy import delivery_context
from notifier.templates.models import Template

from .conftest import Receiver, running

UNIT = "610203100"
SUPERVISOR = "u-supervisor-li"


def overdue_event(unit: str = UNIT, supervisor: str | None = SUPERVISOR) -> CloudEvent:
    case_id = uuid.uuid4()
    payload = CaseOverdueV1(
        case_id=case_id,
        case_number=f"XF2026-{case_id.hex[:4]}",
        kind="petition_case",
        occurred_at=datetime.now(UTC),
        handling_unit_id=unit,
        first_time=True,
        deadline="handling",
        due_at=datetime.now(UTC) - timedelta(hours=1),
        threshold="0",
        supervisor_id=supervisor,
    )
    return new_event(
        source="/gov/petitions-api", type=CASE_OVERDUE_V1, subject=str(case_id), data=payload
    )


async def _setup(
    client: httpx.AsyncClient,
    *,
    unit_hook: str,
    supervisor_hook: str,
    template: dict[str, Any] | None = None,
    supervisor_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    desk = await client.post(
        "/v1/recipients",
        json={
            "kind": "group",
            "name": "陈炉镇信访办",
            "org_unit_id": UNIT,
            "roles": ["handler"],
            "webhook_url": unit_hook,
        },
    )
    boss = await client.post(
        "/v1/recipients",
        json={
            "kind": "person",
            "name": "李督办",
            "user_id": SUPERVISOR,
            "webhook_url": supervisor_hook,
            **(supervisor_extra or {}),
        },
    )
    template_id = None
    if template is not None:
        saved = await client.post("/v1/templates", json=template)
        assert saved.status_code == 201, saved.text
        template_id = saved.json()["id"]
    rule = await client.post(
        "/v1/rules",
        json={
            "name": "overdue",
            "event_type": CASE_OVERDUE_V1,
            "filters": [{"field": "handling_unit_id", "op": "prefix", "value": "610203"}],
            "recipients": [
                {"source": "handling_unit", "role": "handler"},
                {"source": "supervisor"},
            ],
            "channels": ["webhook", "email"],
            "template_id": template_id,
        },
    )
    assert desk.status_code == boss.status_code == rule.status_code == 201, rule.text
    return {"desk": desk.json(), "boss": boss.json(), "rule": rule.json()}


async def _plan(
    app: FastAPI, settings: Settings, event: CloudEvent, send_now: SendNow | None = None
) -> int:
    async with unit_of_work(app.state.sessions) as session:
        return await planning.plan_rule_deliveries(
            session,
            event,
            parse_payload(event),
            events_topic=settings.topic("x"),
            cipher=app.state.cipher,
            send_now=send_now,
        )


async def _deliveries(app: FastAPI, event: CloudEvent) -> list[Delivery]:
    """The event's deliveries, detached, each with its stored (encrypted) address replaced by
    the address in the clear, for the assertions."""
    async with app.state.sessions() as session:
        rows = list(
            await session.scalars(
                select(Delivery).where(Delivery.event_id == event.id).order_by(Delivery.created_at)
            )
        )
        session.expunge_all()
    for row in rows:
        assert row.recipient.startswith("v1.")  # never stored in the clear
        row.recipient = app.state.cipher.decrypt(row.recipient, context=delivery_context(row.id))
    return rows


async def _outbox(app: FastAPI) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [(r.event_type, orjson.loads(r.payload)) for r in rows]


async def _dispatch_until_final(
    dispatcher: DeliveryDispatcher, app: FastAPI, event: CloudEvent
) -> list[Delivery]:
    async with asyncio.timeout(30):
        while True:
            await dispatcher.dispatch_once()
            rows = await _deliveries(app, event)
            if rows and all(d.status is not DeliveryStatus.PENDING for d in rows):
                return rows
            await asyncio.sleep(0.05)


async def test_an_overdue_case_makes_one_delivery_per_recipient_and_channel_once(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    await _setup(client, unit_hook="http://unit.example/h", supervisor_hook="http://boss.example/h")
    event = overdue_event()
    # Email is a rule channel, but neither recipient has an address for it: webhook only.
    assert await _plan(app, settings, event) == 2
    assert await _plan(app, settings, event) == 0  # the same event again changes nothing
    rows = await _deliveries(app, event)
    assert sorted((d.recipient, d.channel) for d in rows) == [
        ("http://boss.example/h", "webhook"),
        ("http://unit.example/h", "webhook"),
    ]
    body = rows[0].body
    assert body["type"] == CASE_OVERDUE_V1 and body["id"] == event.id
    assert body["notificationtext"].startswith("事件：gov.petitions.case.overdue.v1")

    # Another town's case does not pass the rule's filter; a case without supervisor
    # reaches only the unit.
    assert await _plan(app, settings, overdue_event(unit="610204001")) == 0
    assert await _plan(app, settings, overdue_event(supervisor=None)) == 1


async def test_quiet_hours_hold_non_urgent_messages(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    now = datetime.now(CHINA_TZ)
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    await _setup(
        client,
        unit_hook="http://unit.example/h",
        supervisor_hook="http://boss.example/h",
        supervisor_extra={"quiet_start": start.isoformat(), "quiet_end": end.isoformat()},
    )
    event = overdue_event()
    await _plan(app, settings, event)
    by_address = {d.recipient: d for d in await _deliveries(app, event)}
    held = by_address["http://boss.example/h"].next_attempt_at
    assert held.astimezone(CHINA_TZ).time() == time(end.hour, end.minute)
    assert by_address["http://unit.example/h"].next_attempt_at <= datetime.now(UTC)


async def test_a_receiver_failing_at_first_gets_the_message_after_retries(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    async with running(Receiver(fail_first=2)) as flaky, running(Receiver()) as steady:
        await _setup(client, unit_hook=flaky.url, supervisor_hook=steady.url)
        event = overdue_event()
        await _plan(app, settings, event)
        dispatcher = DeliveryDispatcher(session_factory=app.state.sessions, settings=settings)
        rows = await _dispatch_until_final(dispatcher, app, event)
    by_address = {d.recipient: d for d in rows}
    assert by_address[flaky.url].status is DeliveryStatus.SUCCEEDED
    assert by_address[flaky.url].attempts == 3
    assert [r["status"] for r in flaky.requests] == [503, 503, 200]
    # Every attempt carried the same delivery id: the receiver can tell repeats.
    assert len({r["headers"]["webhook-id"] for r in flaky.requests}) == 1
    assert len(steady.accepted()) == 1 and by_address[steady.url].attempts == 1
    outcomes = await _outbox(app)
    assert [t for t, _ in outcomes] == [DELIVERY_SUCCEEDED_V1] * 2
    flaky_event = next(p for _, p in outcomes if p["delivery_id"] == str(by_address[flaky.url].id))
    assert flaky_event["attempts"] == 3 and flaky_event["rule_id"] == str(rows[0].rule_id)


async def test_a_receiver_that_always_fails_ends_failed_with_the_reason_and_can_be_retried(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    broken = Receiver(fail_first=None, fail_status=500)
    async with running(broken), running(Receiver()) as steady:
        setup = await _setup(client, unit_hook=broken.url, supervisor_hook=steady.url)
        event = overdue_event()
        await _plan(app, settings, event)
        dispatcher = DeliveryDispatcher(session_factory=app.state.sessions, settings=settings)
        rows = await _dispatch_until_final(dispatcher, app, event)
        by_address = {d.recipient: d for d in rows}
        failed = by_address[broken.url]
        assert failed.status is DeliveryStatus.FAILED
        assert failed.attempts == settings.max_attempts == len(broken.requests)
        assert failed.last_error == (
            "gave up after 3 attempts; last error: receiver answered HTTP 500"
        )
        assert by_address[steady.url].status is DeliveryStatus.SUCCEEDED

        outcomes = dict((p["delivery_id"], (t, p)) for t, p in await _outbox(app))
        kind, payload = outcomes[str(failed.id)]
        assert kind == DELIVERY_FAILED_V1
        assert payload["reason"] == failed.last_error
        assert payload["recipient_id"] == setup["desk"]["id"] and payload["channel"] == "webhook"

        shown = (await client.get(f"/v1/deliveries/{failed.id}")).json()
        assert shown["status"] == "failed" and shown["last_error"] == failed.last_error

        # Not failed: nothing to retry.
        refused = await client.post(f"/v1/deliveries/{by_address[steady.url].id}/retry")
        assert refused.status_code == 409

        broken.fail_first = 0  # the receiver is mended; a person retries
        retried = await client.post(f"/v1/deliveries/{failed.id}/retry")
        assert retried.status_code == 202 and retried.json()["status"] == "pending"
        rows = await _dispatch_until_final(dispatcher, app, event)
    again = next(d for d in rows if d.id == failed.id)
    assert again.status is DeliveryStatus.SUCCEEDED and again.attempts == 1
    assert len(broken.accepted()) == 1


async def test_a_refusal_fails_at_once_and_a_template_that_cannot_render_fails_visibly(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    template = {
        "name": "overdue-strict",
        "event_type": CASE_OVERDUE_V1,
        "variants": {"default": {"body": "督办人 {{ supervisor_id }}"}},
    }
    async with running(Receiver(fail_first=None, fail_status=410)) as gone:
        setup = await _setup(
            client, unit_hook=gone.url, supervisor_hook=gone.url + "2", template=template
        )
        # A template saved before the save check existed (the check refuses this one now):
        # supervisor_id is a known field, but "upper" of None fails at render time.
        async with unit_of_work(app.state.sessions) as session:
            await session.execute(
                update(Template)
                .where(Template.id == uuid.UUID(setup["rule"]["template_id"]))
                .values(variants={"default": {"body": "督办人 {{ supervisor_id.upper() }}"}})
            )
        event = overdue_event()
        await _plan(app, settings, event)
        dispatcher = DeliveryDispatcher(session_factory=app.state.sessions, settings=settings)
        rows = await _dispatch_until_final(dispatcher, app, event)
        no_supervisor = overdue_event(supervisor=None)
        await _plan(app, settings, no_supervisor)
        [broken] = await _deliveries(app, no_supervisor)
    assert {d.status for d in rows} == {DeliveryStatus.FAILED}
    assert all(d.attempts == 1 and d.last_error == "receiver answered HTTP 410" for d in rows)
    assert broken.status is DeliveryStatus.FAILED
    assert "template failed to render" in (broken.last_error or "")
    kinds = [t for t, p in await _outbox(app) if p["delivery_id"] == str(broken.id)]
    assert kinds == [DELIVERY_FAILED_V1]


def test_the_rate_budget_never_exceeds_the_bucket_and_never_starves() -> None:
    bucket = TokenBucket(2, 3600)
    assert bucket.available() == 2

    async def take_two() -> None:
        await bucket.acquire()
        await bucket.acquire()

    asyncio.run(take_two())
    assert bucket.available() == 0


async def test_the_send_continues_the_trace_of_the_event_that_planned_it(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, spans: Any
) -> None:
    async with running(Receiver()) as unit, running(Receiver()) as boss:
        await _setup(client, unit_hook=unit.url, supervisor_hook=boss.url)
        event = overdue_event()
        with trace.get_tracer("test").start_as_current_span("process case event") as consuming:
            await _plan(app, settings, event)
        dispatcher = DeliveryDispatcher(session_factory=app.state.sessions, settings=settings)
        await _dispatch_until_final(dispatcher, app, event)
    sends = [s for s in spans.get_finished_spans() if s.name == "deliver webhook"]
    assert len(sends) == 2
    for send in sends:
        assert send.context.trace_id == consuming.get_span_context().trace_id
        assert send.parent is not None
        assert send.parent.span_id == consuming.get_span_context().span_id


async def test_a_forged_deliveries_cursor_is_a_400_problem(client: httpx.AsyncClient) -> None:
    # ["yesterday", "x"], ["2027-01-04T00:00:00", 5], not base64 JSON at all
    for cursor in ("WyJ5ZXN0ZXJkYXkiLCAieCJd", "WyIyMDI3LTAxLTA0VDAwOjAwOjAwIiwgNV0", "Zm9v"):
        answer = await client.get("/v1/deliveries", params={"cursor": cursor})
        assert answer.status_code == 400, (cursor, answer.text)
        assert answer.json()["type"].endswith("invalid-cursor")


async def test_an_extension_request_reaches_the_head_of_the_handling_unit_only(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    """第三十四条: the unit's head approves an extension; the request event reaches the
    recipients of the handling unit with role unit_head, not its handlers."""
    unit = "610203101"  # its own unit, so no other test's recipients are selected
    for name, role, hook in (
        ("红土镇信访办", "handler", "http://desk.example/h"),
        ("红土镇镇长", "unit_head", "http://head.example/h"),
    ):
        saved = await client.post(
            "/v1/recipients",
            json={
                "kind": "person",
                "name": name,
                "user_id": f"u-{uuid.uuid4().hex[:8]}",
                "org_unit_id": unit,
                "roles": [role],
                "webhook_url": hook,
            },
        )
        assert saved.status_code == 201, saved.text
    template = await client.post(
        "/v1/templates",
        json={
            "name": "extension-request",
            "event_type": CASE_REQUEST_OPENED_V1,
            "variants": {
                "default": {
                    "subject": "【延期申请】{{ case_number }}",
                    "body": "{{ case_number }} 申请延期{{ days }}天：{{ reason }}，"
                    "请批准或不予批准。",
                }
            },
        },
    )
    assert template.status_code == 201, template.text
    rule = await client.post(
        "/v1/rules",
        json={
            "name": "extension-to-unit-head",
            "event_type": CASE_REQUEST_OPENED_V1,
            "filters": [{"field": "decided_by", "value": "unit_head"}],
            "recipients": [{"source": "handling_unit", "role": "unit_head"}],
            "channels": ["webhook"],
            "template_id": template.json()["id"],
        },
    )
    assert rule.status_code == 201, rule.text

    def request(kind: str, decided_by: str) -> CloudEvent:
        case_id = uuid.uuid4()
        payload = CaseRequestOpenedV1(
            case_id=case_id,
            case_number=f"XF2026-{case_id.hex[:4]}",
            kind="petition_case",
            occurred_at=datetime.now(UTC),
            handling_unit_id=unit,
            first_time=True,
            request=kind,
            decided_by=decided_by,
            reason="需协调勘测",
            days=30 if kind == "extension" else None,
        )
        return new_event(
            source="/gov/petitions-api",
            type=CASE_REQUEST_OPENED_V1,
            subject=str(case_id),
            data=payload,
        )

    extension = request("extension", "unit_head")
    assert await _plan(app, settings, extension) == 1
    (delivery,) = await _deliveries(app, extension)
    assert delivery.recipient == "http://head.example/h"
    assert "申请延期30天：需协调勘测" in orjson.dumps(delivery.body).decode()
    assert await _plan(app, settings, request("return", "registry")) == 0  # not the head's
