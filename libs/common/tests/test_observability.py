"""Metrics by route template, and a trace that crosses the outbox and Kafka headers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from sqlalchemy import select

from gov_common.app import create_service_app
from gov_common.db import unit_of_work
from gov_common.events import new_event
from gov_common.health import Readiness
from gov_common.messaging.outbox import add_to_outbox
from gov_common.metrics import set_service_name
from gov_common.tracing import current_traceparent

from .conftest import CommonDb, OutboxRow
from .test_envelope import _case_created
from .test_inbox import CASE_CREATED, _consumer, _record, _StubDlqProducer


async def test_requests_are_counted_by_route_template_not_raw_path() -> None:
    set_service_name("metrics-test")
    router = APIRouter()

    @router.get("/v1/things/{thing_id}")
    async def read(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app = create_service_app(
        title="t", description="", version="0", routers=[router], readiness=Readiness()
    )

    def count(status: str) -> float:
        labels = {"service": "metrics-test", "method": "GET", "route": "/v1/things/{thing_id}"}
        return REGISTRY.get_sample_value("http_requests_total", {**labels, "status": status}) or 0

    before_ok, before_bad = count("200"), count("422")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        assert (await client.get("/v1/things/1")).status_code == 200
        assert (await client.get("/v1/things/2")).status_code == 200
        assert (await client.get("/v1/things/x")).status_code == 422
        exposition = (await client.get("/metrics")).text
    assert count("200") == before_ok + 2
    assert count("422") == before_bad + 1
    assert "/v1/things/1" not in exposition
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET"' in exposition


async def test_a_request_continues_the_caller_s_trace() -> None:
    # Whether or not this process records spans (another test may have installed a
    # provider), what the request writes carries the caller's trace id.
    router = APIRouter()

    @router.get("/v1/trace")
    async def read() -> dict[str, str | None]:
        return {"traceparent": current_traceparent()}

    app = create_service_app(
        title="t", description="", version="0", routers=[router], readiness=Readiness()
    )
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        traced = (await client.get("/v1/trace", headers={"traceparent": caller})).json()
        untraced = (await client.get("/v1/trace")).json()
    assert traced["traceparent"].split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        assert traced["traceparent"] == caller and untraced["traceparent"] is None
    else:
        assert untraced["traceparent"] is not None  # a new trace of its own


@pytest.mark.integration
async def test_the_consumer_span_continues_the_trace_of_the_request(
    common_db: CommonDb, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("POST /v1/cases") as request_span:
        async with unit_of_work(common_db.sessions) as session:
            event = new_event(source="/t", type=CASE_CREATED, subject="c", data=_case_created())
            await add_to_outbox(session, OutboxRow, topic="traced", key="c", event=event)
    async with common_db.sessions() as session:
        row = await session.scalar(select(OutboxRow).where(OutboxRow.event_id == event.id))
    assert row is not None
    headers = [(name, value.encode()) for name, value in row.headers]
    traceparent = dict(headers)["traceparent"].decode()
    request_context = request_span.get_span_context()
    assert traceparent.split("-")[1] == format(request_context.trace_id, "032x")

    consumer = _consumer(common_db)
    consumer._producer = _StubDlqProducer()  # type: ignore[assignment]
    outcome = await consumer.handle_record(_record(row.payload, headers))

    assert outcome is not None and outcome.handled
    [consumer_span] = [s for s in spans.get_finished_spans() if s.name.startswith("process ")]
    assert consumer_span.context.trace_id == request_context.trace_id
    assert consumer_span.parent is not None
    assert consumer_span.parent.span_id == request_context.span_id
    assert consumer_span.attributes["messaging.message.id"] == event.id


async def test_a_credential_in_a_query_string_never_reaches_a_span(
    spans: InMemorySpanExporter,
) -> None:
    router = APIRouter()

    @router.get("/v1/open")
    async def read() -> dict[str, str]:
        return {}

    app = create_service_app(
        title="t", description="", version="0", routers=[router], readiness=Readiness()
    )
    secret = "gk_0123456789abcdef_" + "S" * 43
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        assert (await client.get("/v1/open", params={"q": "lamp", "api_key": secret})).is_success
    [server] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    recorded = " ".join(str(v) for s in spans.get_finished_spans() for v in s.attributes.values())
    assert secret not in recorded
    assert "api_key=REDACTED" in recorded and "q=lamp" in recorded  # the rest is kept
    assert server.name == "GET /v1/open"
