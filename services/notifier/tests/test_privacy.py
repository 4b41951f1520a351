"""Recipients' addresses stay out of logs, ``last_error``, the failed-delivery events and the
deliveries API, also when an SMTP server, an SMS provider or a channel's exception echoes them;
the masks and the scrubber themselves."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from structlog.testing import CapturingLogger

from gov_common.events.petitions import CASE_OVERDUE_V1
from gov_common.testing import TestAuth as Auth
from notifier.channels.base import Attempt, ChannelName, Outbound
from notifier.config import Settings
from notifier.deliveries import dispatcher as dispatcher_module
from notifier.deliveries.dispatcher import DeliveryDispatcher, build_channels
from notifier.deliveries.models import DeliveryStatus
from notifier.privacy import mask_email, mask_url, scrub

from .conftest import free_port
from .test_deliveries import _deliveries, _dispatch_until_final, _outbox, _plan, overdue_event

PHONE = "+8613912345678"
EMAIL = "zhang.san@chenlu.example"
HOOK = "http://127.0.0.1:9/hooks/private-token-123"


class RefusingSmtp:
    """An SMTP server that refuses every recipient, naming the address in its answer."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return f"550 5.1.1 <{address}>: no such user here"


class EchoingSms:
    """An SMS provider whose refusal names the number, as real ones do."""

    async def send(self, *, phone: str, text: str, reference: str) -> Attempt:
        return Attempt(ok=False, error=f"FailedOperation.PhoneNumberInBlacklist: {phone}")


class CrashingWebhook:
    name = ChannelName.WEBHOOK

    async def send(self, outbound: Outbound) -> Attempt:
        raise RuntimeError(f"cannot reach {outbound.address}")


async def test_echoed_addresses_are_scrubbed_from_errors_events_logs_and_the_api(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    settings: Settings,
    auth: Auth,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged = CapturingLogger()
    monkeypatch.setattr(dispatcher_module, "log", logged)
    desk = await client.post(
        "/v1/recipients",
        json={
            "kind": "group",
            "name": "陈炉镇信访办",
            "org_unit_id": "610203100",
            "phone": PHONE,
            "email": EMAIL,
            "webhook_url": HOOK,
        },
    )
    assert desk.status_code == 201, desk.text
    rule = await client.post(
        "/v1/rules",
        json={
            "name": "overdue-everywhere",
            "event_type": CASE_OVERDUE_V1,
            "recipients": [{"source": "handling_unit"}],
            "channels": ["email", "sms", "webhook"],
        },
    )
    assert rule.status_code == 201, rule.text

    port = free_port()
    smtp = Controller(RefusingSmtp(), hostname="127.0.0.1", port=port)
    await asyncio.to_thread(smtp.start)
    try:
        smtp_settings = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "max_attempts": 1}
        )
        async with httpx.AsyncClient() as http:
            channels = build_channels(smtp_settings, http, sms=EchoingSms())
            channels["webhook"] = CrashingWebhook()
            dispatcher = DeliveryDispatcher(
                session_factory=app.state.sessions,
                settings=smtp_settings,
                channels=channels,
                cipher=app.state.cipher,
            )
            event = overdue_event()
            assert await _plan(app, settings, event) == 3
            rows = await _dispatch_until_final(dispatcher, app, event)
    finally:
        await asyncio.to_thread(smtp.stop)

    assert {d.channel: d.status for d in rows} == {
        "email": DeliveryStatus.FAILED,
        "sms": DeliveryStatus.FAILED,
        "webhook": DeliveryStatus.FAILED,
    }
    errors = {d.channel: d.last_error or "" for d in rows}
    # The reason survives, the address does not.
    assert "z***@chenlu.example" in errors["email"] and "no such user" in errors["email"]
    assert "139****5678" in errors["sms"] and "PhoneNumberInBlacklist" in errors["sms"]
    assert "RuntimeError: cannot reach http://127.0.0.1/***" in errors["webhook"]

    published = orjson.dumps(await _outbox(app)).decode()
    shown = (
        await anonymous.get(
            "/v1/deliveries",
            params={"event_id": event.id},
            headers=auth.headers("system_client"),
        )
    ).text
    as_admin = (await client.get("/v1/deliveries", params={"event_id": event.id})).text
    logs = repr(logged.calls)
    assert "delivery.attempted" in logs and "delivery.channel_error" in logs
    for where, found in {
        "last_error": repr(errors),
        "events": published,
        "api": shown + as_admin,
        "logs": logs,
    }.items():
        for secret in (PHONE, PHONE.removeprefix("+86"), EMAIL, "private-token-123"):
            assert secret not in found, (where, secret)
    assert "139****5678" in shown and "z***@chenlu.example" in shown


def test_masks_and_scrubbing() -> None:
    assert mask_email("li.wei@duban.example") == "l***@duban.example"
    assert mask_email("nonsense") == "***"
    assert mask_url("https://oapi.dingtalk.com/robot/send?access_token=abc") == (
        "https://oapi.dingtalk.com/***"
    )
    text = (
        "550 <li@duban.example> refused; +86 139-1234-5678? 13912345678, "
        "POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1 failed; "
        "delivery 550e8400-e29b-41d4-a716-446655440000 attempt 3 HTTP 500"
    )
    scrubbed = scrub(text, ["+8613912345678"])
    for secret in ("li@duban.example", "139-1234-5678", "13912345678", "key=k1"):
        assert secret not in scrubbed
    # Ids, statuses and counts are left alone.
    assert "550e8400-e29b-41d4-a716-446655440000" in scrubbed
    assert "attempt 3 HTTP 500" in scrubbed and scrubbed.startswith("550 <l***@duban.example>")


async def test_delivery_addresses_are_sealed_and_bound_to_their_delivery(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    created = await client.post(
        "/v1/recipients",
        json={"kind": "group", "name": "x", "org_unit_id": "610203100", "email": EMAIL},
    )
    assert created.status_code == 201
    assert (
        await client.post(
            "/v1/rules",
            json={
                "name": "overdue-mail",
                "event_type": CASE_OVERDUE_V1,
                "recipients": [{"source": "handling_unit"}],
                "channels": ["email"],
            },
        )
    ).status_code == 201
    event = overdue_event()
    await _plan(app, settings, event)
    [delivery] = await _deliveries(app, event)  # asserts the stored form is a ciphertext
    assert delivery.recipient == EMAIL


def test_the_http_clients_request_lines_are_not_logged(app: FastAPI) -> None:
    """httpx logs each request's URL at INFO; robot and webhook URLs carry tokens."""
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
