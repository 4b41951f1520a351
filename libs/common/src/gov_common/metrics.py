"""Prometheus metrics every service exposes at ``/metrics``.

The names are the contract of the Grafana dashboard and alert rules in ``deploy/observability``.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Outbox rows published to Kafka", ["service", "topic"]
)
CONSUMER_LAG = Gauge(
    "consumer_lag",
    "Records on the partition not yet handled by the consumer",
    ["service", "consumer", "topic", "partition"],
)
CONSUMER_HANDLED = Counter(
    "consumer_events_handled_total",
    "Events handled (duplicates excluded)",
    ["service", "consumer", "event_type"],
)
CONSUMER_DEAD_LETTERS = Counter(
    "consumer_dead_letters_total",
    "Records sent to the dead-letter topic",
    ["service", "consumer", "topic"],
)
CALENDAR_COVERED_UNTIL = Gauge(
    "calendar_covered_until_timestamp_seconds",
    "End (Unix time) of the last day deadlines rest on a known, non-provisional holiday calendar",
    ["service"],
)
NOTIFIER_DELIVERIES = Counter(
    "notifier_deliveries_total", "Delivery attempts by outcome", ["channel", "status"]
)

# Set once at start-up by the service; labels every series this process exports.
_service = {"name": "unknown"}


def set_service_name(name: str) -> None:
    _service["name"] = name


def service_name() -> str:
    return _service["name"]


class HttpMetricsMiddleware:
    """Counts and times requests by route template (never by raw path: ids would explode it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if template not in ("/metrics", "/healthz", "/readyz"):
                method = scope.get("method", "")
                labels = (service_name(), method, template)
                HTTP_DURATION.labels(*labels).observe(time.perf_counter() - started)
                HTTP_REQUESTS.labels(*labels, str(status)).inc()
