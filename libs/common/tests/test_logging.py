"""JSON logs: one object per line, with the request id, and never a frame's local variables."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid

import orjson
import pytest

from gov_common.events import new_event, to_kafka

from .conftest import CommonDb
from .test_envelope import _case_created

# Run in a process of its own: configure_logging binds the handlers to that process's stdout.
PROGRAM = """
import structlog
from gov_common.logging import configure_logging

configure_logging("logging-test")
log = structlog.get_logger()

def register(phone):
    petitioner_phone = phone  # a local that a traceback with locals would print
    raise ValueError(f"cannot register {len(petitioner_phone)}-digit number")

with structlog.contextvars.bound_contextvars(request_id="req-1"):
    try:
        register("13912345678")
    except ValueError:
        log.exception("intake.failed")
"""


def test_exceptions_are_logged_without_local_variables() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    line = result.stdout.strip().splitlines()[-1]
    entry = orjson.loads(line)
    assert entry["message"] == "intake.failed" and entry["request_id"] == "req-1"
    assert entry["exception"][0]["exc_type"] == "ValueError"
    assert "13912345678" not in result.stdout + result.stderr


# A traced request: the tracer provider is installed first, as configure_tracing does at start.
TRACED_REQUEST = """
import asyncio, sys
import httpx, orjson, structlog
from fastapi import APIRouter
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from gov_common.app import create_service_app
from gov_common.health import Readiness
from gov_common.logging import configure_logging

exporter = InMemorySpanExporter()
if sys.argv[1] == "traced":
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
configure_logging("trace-test")
log = structlog.get_logger("things")
router = APIRouter()

@router.get("/v1/things")
async def things() -> dict[str, str]:
    log.info("things.listed")
    return {}

app = create_service_app(
    title="t", description="", version="0", routers=[router], readiness=Readiness()
)
CALLER = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

async def main() -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        assert (await c.get("/v1/things", headers={"traceparent": CALLER})).status_code == 200

asyncio.run(main())
spans = [
    {"name": s.name, "kind": s.kind.name, "trace_id": format(s.context.trace_id, "032x"),
     "span_id": format(s.context.span_id, "016x")}
    for s in exporter.get_finished_spans()
]
sys.stderr.write(orjson.dumps(spans).decode())
"""


def _lines(stdout: str) -> dict[str, dict[str, object]]:
    entries = [orjson.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {str(e["message"]): e for e in entries}


def test_every_line_of_a_traced_request_carries_its_trace_and_span_ids() -> None:
    result = subprocess.run(
        [sys.executable, "-c", TRACED_REQUEST, "traced"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    [server] = [s for s in orjson.loads(result.stderr) if s["kind"] == "SERVER"]
    # The request continues the caller's trace, in a span of its own.
    assert server["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    lines = _lines(result.stdout)
    for message in ("things.listed", "http.request"):
        assert lines[message]["trace_id"] == server["trace_id"], message
        assert lines[message]["span_id"] == server["span_id"], message


def test_without_a_tracer_the_lines_carry_the_caller_s_trace() -> None:
    result = subprocess.run(
        [sys.executable, "-c", TRACED_REQUEST, "untraced"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert orjson.loads(result.stderr) == []  # nothing recorded
    line = _lines(result.stdout)["things.listed"]
    assert (line["trace_id"], line["span_id"]) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    )


def test_a_line_outside_any_trace_has_no_trace_ids() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=True, timeout=60
    )
    entry = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert "trace_id" not in entry and "span_id" not in entry


# A consumed event: the record comes on stdin (as the consumer would fetch it), the inbox is
# the test database's; the handler logs one line.
CONSUMED_EVENT = """
import asyncio, base64, sys
import orjson, structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from gov_common.db import Base, create_engine, create_session_factory, new_metadata
from gov_common.logging import configure_logging
from gov_common.messaging.inbox import IdempotentConsumer, InboxMixin
from gov_common.testing import consumer_record

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
configure_logging("trace-test")
log = structlog.get_logger("effects")

class TestBase(Base):
    __abstract__ = True
    metadata = new_metadata()

class InboxRow(InboxMixin, TestBase):
    __tablename__ = "inbox"

given = orjson.loads(sys.stdin.read())

async def handler(session, event, payload):
    log.info("effect.recorded", event_id=event.id)

async def main() -> None:
    engine = create_engine(given["url"])
    consumer = IdempotentConsumer(
        name=given["consumer"], topics=["petitions.case-events"],
        handlers={given["type"]: handler}, session_factory=create_session_factory(engine),
        inbox_model=InboxRow, bootstrap_servers="unused:1",
    )
    record = consumer_record(
        "petitions.case-events", base64.b64decode(given["value"]),
        [(k, base64.b64decode(v)) for k, v in given["headers"]],
    )
    outcome = await consumer.handle_record(record)
    assert outcome is not None and outcome.handled
    await engine.dispose()

asyncio.run(main())
spans = [
    {"name": s.name, "kind": s.kind.name, "trace_id": format(s.context.trace_id, "032x"),
     "span_id": format(s.context.span_id, "016x")}
    for s in exporter.get_finished_spans()
]
sys.stderr.write(orjson.dumps(spans).decode())
"""


@pytest.mark.integration
def test_a_consumed_event_s_handler_logs_with_the_consumer_span_s_ids(
    common_db: CommonDb,
) -> None:
    producer_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    event = new_event(
        source="/t",
        type="gov.petitions.case.created.v1",
        subject="c",
        data=_case_created(),
        traceparent=f"00-{producer_trace}-00f067aa0ba902b7-01",
    )
    kafka = to_kafka(event, key="c")
    given = {
        "url": common_db.url,
        "consumer": f"trace-{uuid.uuid4().hex[:8]}",
        "type": event.type,
        "value": base64.b64encode(kafka.value).decode(),
        "headers": [(k, base64.b64encode(v).decode()) for k, v in kafka.headers],
    }
    result = subprocess.run(
        [sys.executable, "-c", CONSUMED_EVENT],
        input=orjson.dumps(given).decode(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [consumer_span] = [s for s in orjson.loads(result.stderr) if s["kind"] == "CONSUMER"]
    assert consumer_span["trace_id"] == producer_trace  # the trace the request began
    line = _lines(result.stdout)["effect.recorded"]
    assert line["event_id"] == event.id
    assert (line["trace_id"], line["span_id"]) == (
        consumer_span["trace_id"],
        consumer_span["span_id"],
    )
