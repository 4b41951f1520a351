"""Notifications end to end: an overdue case reaches its handling unit and its supervisor by a
signed webhook, by email through a real SMTP server and by (sandbox) SMS, once each — also when
the notifier is SIGKILLed mid-batch and started again — and no recipient's phone number or
email address appears in the notifier's logs or its Kafka records.

The notifier here is a process of this file's own, with its own database and topic prefix, so
its dispatcher never shares deliveries with the suite's notifier. The overdue events are
published straight to the topic, as the petitions service's deadline sweep would.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiosmtpd.controller import Controller
from sqlalchemy.engine import make_url

from gov_common.events import CloudEvent, new_event, to_kafka
from gov_common.events.contracts import NOTIFIER_DELIVERY_EVENTS, PETITIONS_CASE_EVENTS
from gov_common.events.petitions import CASE_OVERDUE_V1, CaseOverdueV1
from gov_common.messaging.kafka import ensure_topics
from gov_common.signing import generate_secret
from gov_common.testing import (
    Infrastructure,
    create_database,
    drop_database,
    free_port,
    migrate,
    run_coroutine,
)
from gov_common.testing import TestAuth as Auth

from .conftest import ServiceProcess

pytestmark = pytest.mark.e2e

SECRET = generate_secret()  # the built-in webhook's; recipients' webhooks get their own
UNIT = "610203104"  # a town office (镇办)
SUPERVISOR = "u-supervisor-e2e"
# The recipients' addresses: personal data that must never reach a log line or a record.
UNIT_EMAIL, UNIT_PHONE = "xfb@chenlu.example", "+8613800138000"
SUPERVISOR_EMAIL, SUPERVISOR_PHONE = "li@duban.example", "+8613900139001"
HOOK_TOKEN = "e2e-hook-token-" + uuid.uuid4().hex[:8]
CHANNELS = ["webhook", "email", "sms"]
PER_EVENT = 2 * len(CHANNELS)  # the unit and the supervisor, on every channel


class SmtpInbox:
    """aiosmtpd handler: keeps every message the notifier sends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        with self._lock:
            self.messages.append(
                {
                    "to": list(envelope.rcpt_tos),
                    "subject": str(make_header(decode_header(message["Subject"]))),
                    "delivery_id": message["X-Gov-Delivery-Id"],
                    "event_id": message["X-Gov-Event-Id"],
                }
            )
        return "250 OK"

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.messages)


class Stack:
    def __init__(
        self, sink: ServiceProcess, smtp: SmtpInbox, env: dict[str, str], auth: Auth
    ) -> None:
        self.sink = sink
        self.smtp = smtp
        self.env = env
        # The notifier's configuration is an admin's to manage.
        self.admin = auth.headers("admin", subject="e2e-admin")
        self.bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
        self.prefix = env["GOV_KAFKA_TOPIC_PREFIX"]

    def notifier(self) -> ServiceProcess:
        process = ServiceProcess(
            f"notifier-e2e-{self.prefix.rstrip('.')}",
            ["--factory", "notifier.main:create_app"],
            self.env,
        )
        process.start()
        process.wait_ready()
        return process


@pytest.fixture(scope="module")
def stack(
    infrastructure: Infrastructure, test_databases: dict[str, str], auth: Auth
) -> Iterator[Stack]:
    # A database of its own (same server as test_databases), migrated like the others.
    base = make_url(test_databases["notifier"])
    name = f"{base.database}_notif"
    admin = infrastructure.admin_url("notifier")
    run_coroutine(create_database(admin, name))
    url = str(base.set(database=name))
    migrate("notifier", url)

    smtp = SmtpInbox()
    smtp_port = free_port()
    controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    sink = ServiceProcess(
        "webhook-sink-notifications",
        ["--app-dir", "deploy/local", "webhook_sink:app"],
        {"WEBHOOK_SINK_SECRET": SECRET},
        ready_path="/healthz",
    )
    prefix = f"e2en{uuid.uuid4().hex[:8]}."
    env = {
        "NOTIFIER_DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        "GOV_KAFKA_TOPIC_PREFIX": prefix,
        "NOTIFIER_CONSUMER_GROUP": prefix + "notifier",
        "GOV_ENVIRONMENT": "test",
        "GOV_LOG_LEVEL": "INFO",
        **auth.settings_env,
        "NOTIFIER_WEBHOOK_SECRET": SECRET,
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp_port),
        "NOTIFIER_RETRY_BASE_S": "0.2",
        "NOTIFIER_RETRY_CAP_S": "2",
        "NOTIFIER_WEBHOOK_TIMEOUT_S": "3",
        "NOTIFIER_SMTP_TIMEOUT_S": "3",
        # Short, so deliveries claimed by a killed process are sent again soon after.
        "NOTIFIER_CLAIM_LEASE_S": "5",
        # Slow enough that a batch is still being sent when the process is killed.
        "NOTIFIER_RATE_LIMITS": "webhook=3/1,email=3/1,sms=3/1",
        "NOTIFIER_DISPATCH_BATCH": "4",
    }
    try:
        sink.start()
        sink.wait_ready()
        yield Stack(sink, smtp, env, auth)
    finally:
        sink.stop()
        controller.stop()
        run_coroutine(drop_database(admin, name))


async def _configure(http: httpx.AsyncClient, notifier: str, sink: str) -> None:
    """The unit's duty desk and the supervisor, each by webhook and email, and the rule."""
    if (await http.get(notifier + "/v1/rules")).json()["items"]:
        return  # configured by an earlier test of this module
    for body in (
        {
            "kind": "group",
            "name": "陈炉镇信访办",
            "org_unit_id": UNIT,
            "roles": ["handler"],
            "email": UNIT_EMAIL,
            "phone": UNIT_PHONE,
            # A token in the query, as many receivers want: a secret that is never logged.
            "webhook_url": f"{sink}/hooks/unit?token={HOOK_TOKEN}",
        },
        {
            "kind": "person",
            "name": "李督办",
            "user_id": SUPERVISOR,
            "email": SUPERVISOR_EMAIL,
            "phone": SUPERVISOR_PHONE,
            "webhook_url": f"{sink}/hooks/supervisor",
        },
    ):
        created = await http.post(notifier + "/v1/recipients", json=body)
        assert created.status_code == 201, created.text
        # Each webhook's own secret, handed out once: the receiver (the sink) keeps it.
        secret = created.json()["webhook_secret"]
        assert secret.startswith("whsec_") and secret != SECRET
        path = urlsplit(body["webhook_url"]).path
        await http.put(sink + "/secrets", json={"path": path, "secret": secret})
    template = await http.post(
        notifier + "/v1/templates",
        json={
            "name": "case-overdue",
            "event_type": CASE_OVERDUE_V1,
            "variants": {
                "default": {
                    "subject": "【超期】{{ case_number }}",
                    "body": "{{ recipient.name }}：案件 {{ case_number }} "
                    "已超过{{ deadline }}期限。",
                }
            },
        },
    )
    assert template.status_code == 201, template.text
    rule = await http.post(
        notifier + "/v1/rules",
        json={
            "name": "overdue-to-unit-and-supervisor",
            "event_type": CASE_OVERDUE_V1,
            "filters": [{"field": "deadline", "op": "in", "value": ["handling", "acceptance"]}],
            "recipients": [
                {"source": "handling_unit", "role": "handler"},
                {"source": "supervisor"},
            ],
            "channels": CHANNELS,
            "template_id": template.json()["id"],
        },
    )
    assert rule.status_code == 201, rule.text


def _overdue() -> CloudEvent:
    case_id = uuid.uuid4()
    now = datetime.now(UTC)
    payload = CaseOverdueV1(
        case_id=case_id,
        case_number=f"XF2026-{case_id.hex[:6]}",
        kind="petition_case",
        occurred_at=now,
        handling_unit_id=UNIT,
        first_time=True,
        deadline="handling",
        due_at=now - timedelta(hours=2),
        threshold="0",
        supervisor_id=SUPERVISOR,
    )
    return new_event(
        source="/gov/petitions-api", type=CASE_OVERDUE_V1, subject=str(case_id), data=payload
    )


async def _publish(stack: Stack, events: list[CloudEvent]) -> None:
    await ensure_topics(stack.bootstrap, [PETITIONS_CASE_EVENTS], prefix=stack.prefix)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        for event in events:
            record = to_kafka(event, key=event.subject)
            await producer.send_and_wait(
                stack.prefix + PETITIONS_CASE_EVENTS,
                record.value,
                key=record.key,
                headers=record.headers,
            )
    finally:
        await producer.stop()


async def _webhooks(http: httpx.AsyncClient, stack: Stack, ids: set[str]) -> list[dict[str, Any]]:
    received = (await http.get(stack.sink.url + "/received")).json()
    return [r for r in received if r["event_id"] in ids]


async def _wait_all_delivered(
    http: httpx.AsyncClient, notifier: ServiceProcess, events: list[CloudEvent]
) -> None:
    async with asyncio.timeout(120):
        for event in events:
            while True:
                items = (
                    await http.get(notifier.url + "/v1/deliveries", params={"event_id": event.id})
                ).json()["items"]
                if len(items) == PER_EVENT and all(i["status"] == "succeeded" for i in items):
                    break
                await asyncio.sleep(0.3)


def _assert_once_each(
    stack: Stack, webhooks: list[dict[str, Any]], events: list[CloudEvent]
) -> None:
    """Per event: one distinct delivery at each of the unit's and the supervisor's webhook and
    mailbox — the receiver, deduplicating by delivery id, sees each notification once."""
    mails = [m for m in stack.smtp.snapshot() if m["event_id"] in {e.id for e in events}]
    for event in events:
        hooks = [w for w in webhooks if w["event_id"] == event.id]
        assert all(w["signature_valid"] for w in hooks)
        by_path: dict[str, set[str]] = {}
        for w in hooks:
            by_path.setdefault(w["path"], set()).add(w["delivery_id"])
        assert {p: len(ids) for p, ids in by_path.items()} == {
            "/hooks/unit": 1,
            "/hooks/supervisor": 1,
        }, hooks
        assert {w["body"]["id"] for w in hooks} == {event.id}
        case_number = event.data["case_number"]
        assert all(case_number in w["body"]["notificationtext"] for w in hooks)

        event_mails = [m for m in mails if m["event_id"] == event.id]
        by_address: dict[str, set[str]] = {}
        for m in event_mails:
            by_address.setdefault(m["to"][0], set()).add(m["delivery_id"])
        assert {a: len(ids) for a, ids in by_address.items()} == {
            UNIT_EMAIL: 1,
            SUPERVISOR_EMAIL: 1,
        }, event_mails
        assert {m["subject"] for m in event_mails} == {f"【超期】{case_number}"}


async def test_an_overdue_case_notifies_its_unit_and_supervisor_once_by_webhook_and_email(
    stack: Stack,
) -> None:
    notifier = stack.notifier()
    try:
        async with httpx.AsyncClient(timeout=10, headers=stack.admin) as http:
            await _configure(http, notifier.url, stack.sink.url)
            event = _overdue()
            await _publish(stack, [event, event])  # a duplicate, as Kafka may redeliver
            await _wait_all_delivered(http, notifier, [event])
            webhooks = await _webhooks(http, stack, {event.id})
            # Not killed: not even a repeat on the wire.
            assert len(webhooks) == 2
            assert len([m for m in stack.smtp.snapshot() if m["event_id"] == event.id]) == 2
            _assert_once_each(stack, webhooks, [event])
    finally:
        notifier.stop()


async def test_a_notifier_killed_mid_batch_delivers_everything_once_after_restart(
    stack: Stack,
) -> None:
    notifier = stack.notifier()
    events = [_overdue() for _ in range(6)]  # 36 deliveries at 3 a second per channel
    ids = {e.id for e in events}
    try:
        async with httpx.AsyncClient(timeout=10, headers=stack.admin) as http:
            await _configure(http, notifier.url, stack.sink.url)
            await _publish(stack, events)
            async with asyncio.timeout(60):
                while not await _webhooks(http, stack, ids):
                    await asyncio.sleep(0.05)
            notifier.stop(signal.SIGKILL)
            sent_before_kill = len(await _webhooks(http, stack, ids))
            assert sent_before_kill < 12  # the kill did land mid-batch

            notifier = stack.notifier()
            await _wait_all_delivered(http, notifier, events)
            _assert_once_each(stack, await _webhooks(http, stack, ids), events)
    finally:
        notifier.stop()


async def _delivery_records(stack: Stack, event_id: str, count: int) -> list[bytes]:
    """The notifier's delivery-events records from the start until ``count`` of them are about
    ``event_id``: every value and header read on the way."""
    consumer = AIOKafkaConsumer(
        stack.prefix + NOTIFIER_DELIVERY_EVENTS,
        bootstrap_servers=stack.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    found: list[bytes] = []
    about_event = 0
    try:
        async with asyncio.timeout(60):
            while about_event < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for record in batch:
                        value = record.value or b""
                        about_event += event_id.encode() in value
                        found += [value, *(v for _, v in record.headers)]
    finally:
        await consumer.stop()
    return found


async def test_no_recipient_address_reaches_the_notifiers_logs_or_kafka_records(
    stack: Stack, auth: Auth
) -> None:
    notifier = stack.notifier()
    try:
        async with httpx.AsyncClient(timeout=10, headers=stack.admin) as http:
            await _configure(http, notifier.url, stack.sink.url)
            event = _overdue()
            await _publish(stack, [event])
            await _wait_all_delivered(http, notifier, [event])
            # The addresses went out: by email, and to the (sandbox) SMS provider.
            mails = [m for m in stack.smtp.snapshot() if m["event_id"] == event.id]
            assert {m["to"][0] for m in mails} == {UNIT_EMAIL, SUPERVISOR_EMAIL}
            # A supervisor and a machine client read deliveries, the addresses masked.
            for role in ("supervisor", "system_client"):
                shown = await http.get(
                    notifier.url + "/v1/deliveries",
                    params={"event_id": event.id},
                    headers=auth.headers(role),
                )
                assert shown.status_code == 200
                assert "138****8000" in shown.text and UNIT_PHONE not in shown.text
            # Every outcome is relayed to Kafka; read them all (and any before them).
            records = b"\n".join(await _delivery_records(stack, event.id, PER_EVENT))
    finally:
        notifier.stop()

    logs = notifier.log_path.read_bytes()
    assert b"delivery.attempted" in logs  # the log is the one the notifier wrote
    for address in (UNIT_EMAIL, SUPERVISOR_EMAIL, UNIT_PHONE, SUPERVISOR_PHONE, HOOK_TOKEN):
        for form in {address, address.removeprefix("+86")}:
            assert form.encode() not in logs, form
            assert form.encode() not in records, form
