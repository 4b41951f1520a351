"""OpenTelemetry traces that follow a case from the HTTP call through Kafka to the delivery.

The W3C ``traceparent`` of the request is stored with the event in the outbox, travels as a
Kafka header, and becomes the parent of the consumer's span. The exporter is chosen with the
standard ``OTEL_TRACES_EXPORTER`` (``none``, ``console`` or ``otlp``; the OTLP endpoint from
``OTEL_EXPORTER_OTLP_ENDPOINT``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

# Query parameters whose values never go into a span: credentials a client put in a URL
# although it should not (the services accept API keys from headers and POST bodies only).
_SECRET_QUERY = re.compile(r"(?i)((?:^|[?&])(?:api_key|access_token)=)[^&#]*")
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")

_propagator = TraceContextTextMapPropagator()
_configured = {"done": False}


def configure_tracing(service: str, exporter: str) -> None:
    """Install the tracer provider once per process; ``none`` keeps tracing a no-op."""
    if _configured["done"] or exporter == "none":
        return
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter()
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    else:
        raise ValueError(f"OTEL_TRACES_EXPORTER must be none, console or otlp, not {exporter!r}")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    _configured["done"] = True


def instrument_app(app: FastAPI) -> None:
    """Server spans for every request once a tracer provider is installed. Without one the
    instrumentation's spans would all be no-ops, yet it costs a request more than all our own
    middlewares together; then only the caller's trace context is carried (what the no-op
    spans did: the events a request writes continue the caller's trace)."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        app.add_middleware(TraceContextMiddleware)
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="healthz,readyz,metrics", server_request_hook=_redact_secrets
    )


def _redact_secrets(span: Span, scope: dict[str, Any]) -> None:
    """The server span records the request's URL: without the value of an ``api_key`` (or
    ``access_token``) the client put in its query string."""
    query = scope.get("query_string") or b""
    if not _SECRET_QUERY.search(query.decode("latin-1")):
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, _SECRET_QUERY.sub(r"\1REDACTED", value))


class TraceContextMiddleware:
    """Makes an incoming W3C ``traceparent`` (and ``tracestate``, baggage) the request's
    current context, without recording spans."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        if "traceparent" not in carrier:
            await self.app(scope, receive, send)
            return
        token = otel_context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, or None when nothing is being traced."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> Context | None:
    if not traceparent:
        return None
    return _propagator.extract({"traceparent": traceparent})


@contextmanager
def span_from_event(name: str, traceparent: str | None, *, kind: SpanKind) -> Iterator[Span]:
    """A span whose parent is the span that produced the event (if it carried one)."""
    tracer = trace.get_tracer("gov_common")
    with tracer.start_as_current_span(name, context=context_from(traceparent), kind=kind) as span:
        yield span
