"""One call at start-up: JSON logs, the metrics' service label, and tracing."""

from __future__ import annotations

from gov_common.logging import configure_logging
from gov_common.metrics import set_service_name
from gov_common.settings import ServiceSettings
from gov_common.tracing import configure_tracing


def configure_observability(settings: ServiceSettings) -> None:
    configure_logging(settings.service_name, settings.log_level)
    set_service_name(settings.service_name)
    configure_tracing(settings.service_name, settings.otel_traces_exporter)
