"""Issue #7: one trace id followed from the HTTP call to the webhook delivery across the three
processes, and the Prometheus series each service exposes."""

from __future__ import annotations

import asyncio
import json
import re
import secrets

import httpx
import pytest

from .conftest import Suite
from .test_first_slice import CASE, _received_for

pytestmark = pytest.mark.e2e

# ConsoleSpanExporter writes each span as indented JSON: its name, then its context.
SPAN = re.compile(r'"name": "([^"]+)",\s*"context": \{\s*"trace_id": "0x([0-9a-f]{32})"')


def _spans_of(log_text: str, trace_id: str) -> set[str]:
    return {name for name, tid in SPAN.findall(log_text) if tid == trace_id}


async def test_one_trace_id_runs_from_the_http_call_to_the_webhook_delivery(suite: Suite) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            suite.petitions.url + "/v1/cases",
            json=CASE,
            headers={**suite.auth.headers("operator"), "traceparent": traceparent},
        )
        assert created.status_code == 201, created.text
        case_id = created.json()["id"]
        async with asyncio.timeout(60):
            while not await _received_for(http, suite, case_id):
                await asyncio.sleep(0.2)
    # Spans are exported in batches (every few seconds): wait for the delivery's, and the call's.
    async with asyncio.timeout(60):
        while "deliver webhook" not in _spans_of(suite.notifier.log_path.read_text(), trace_id):
            await asyncio.sleep(0.5)
        while not _spans_of(suite.petitions.log_path.read_text(), trace_id):
            await asyncio.sleep(0.5)
    petitions = _spans_of(suite.petitions.log_path.read_text(), trace_id)
    notifier = _spans_of(suite.notifier.log_path.read_text(), trace_id)
    assert any(name.startswith("POST /v1/cases") for name in petitions), petitions
    assert f"process {suite.topic_prefix}petitions.case-events" in notifier, notifier
    assert "deliver webhook" in notifier
    # The log lines of the request and of the consumed event carry the same trace id.
    assert "http.request" in _log_messages(suite.petitions.log_path.read_text(), trace_id)
    assert "notifier.event_planned" in _log_messages(suite.notifier.log_path.read_text(), trace_id)


def _log_messages(log_text: str, trace_id: str) -> set[str]:
    """The messages of the JSON log lines (not the exported spans) carrying ``trace_id``."""
    found = set()
    for line in log_text.splitlines():
        if not line.startswith('{"') or trace_id not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:  # a line of an exported span, not a log line
            continue
        if entry.get("trace_id") == trace_id and len(str(entry.get("span_id", ""))) == 16:
            found.add(str(entry.get("message")))
    return found


SERIES = {
    "petitions": [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "outbox_backlog",
        "outbox_oldest_age_seconds",
        "outbox_published_total",
    ],
    "targets": [
        "http_requests_total",
        "consumer_events_handled_total",
        "consumer_dead_letters_total",
        "consumer_lag",
    ],
    "notifier": [
        "http_requests_total",
        "consumer_events_handled_total",
        "consumer_dead_letters_total",
        "consumer_lag",
        "notifier_deliveries_total",
        "outbox_backlog",
    ],
}


async def test_each_service_exposes_its_series(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        # Some traffic first, so that every labelled series has been touched.
        created = await http.post(
            suite.petitions.url + "/v1/cases", json=CASE, headers=suite.auth.headers("operator")
        )
        case_id = created.json()["id"]
        async with asyncio.timeout(60):
            while not await _received_for(http, suite, case_id):
                await asyncio.sleep(0.2)
        await http.get(suite.targets.url + "/v1/indicators", headers=suite.auth.headers("planner"))
        await http.get(suite.notifier.url + "/v1/deliveries", headers=suite.auth.headers("admin"))
        await asyncio.sleep(6)  # the relay refreshes its backlog gauges every 5 s
        for name, series in SERIES.items():
            service = getattr(suite, name)
            text = (await http.get(service.url + "/metrics")).text
            missing = [s for s in series if not re.search(rf"^{s}\{{", text, re.M)]
            assert not missing, f"{name} lacks {missing}"
