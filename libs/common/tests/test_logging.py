"""JSON logs: one object per line, with the request id, and never a frame's local variables."""

from __future__ import annotations

import subprocess
import sys

import orjson

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
