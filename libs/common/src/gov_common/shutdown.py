"""Drain before stopping: on SIGTERM a service first reports itself unready, keeps serving
for a while, and only then lets the server stop accepting connections.

uvicorn stops listening the moment it gets SIGTERM. A balancer that learns about a stopping
backend from its readiness checks (rather than from Kubernetes' endpoint removal, which the
preStop sleep covers) would still send requests for up to one check interval, and they would
be refused. uvicorn has no delay of its own (encode/uvicorn PR #2414 proposes one), so this
wraps the handler it installed: the first SIGTERM starts draining, and the server's handler
runs ``GOV_SHUTDOWN_DRAIN_S`` later; a second SIGTERM hands over at once.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import structlog

from gov_common.health import Readiness

log = structlog.get_logger(__name__)


@contextmanager
def drain_on_sigterm(readiness: Readiness, drain_s: float) -> Iterator[None]:
    """Within this block, SIGTERM marks ``readiness`` as draining and is passed on to the
    server's own handler after ``drain_s`` seconds. Must be entered on the event loop, in the
    main thread, after the server installed its handler (i.e. in the app's lifespan)."""
    server_handler = signal.getsignal(signal.SIGTERM)
    if (
        drain_s <= 0
        or threading.current_thread() is not threading.main_thread()
        or not callable(server_handler)  # default or ignored: no server waits for the signal
    ):
        yield
        return
    loop = asyncio.get_running_loop()

    def start_draining(sig: int) -> None:
        log.info("shutdown.draining", drain_s=drain_s)
        loop.call_later(drain_s, hand_over, sig)

    def hand_over(sig: int) -> None:
        log.info("shutdown.drained")
        server_handler(sig, None)

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if readiness.draining:  # asked twice: stop now
            server_handler(sig, frame)
            return
        readiness.draining = True
        # A signal handler runs between two bytecodes of the loop's thread: schedule, do no
        # work (logging takes locks) here.
        loop.call_soon_threadsafe(start_draining, sig)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, server_handler)
