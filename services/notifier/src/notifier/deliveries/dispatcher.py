"""Sends due deliveries over their channel and records each attempt."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.db import unit_of_work
from gov_common.signing import DELIVERY_ID_HEADER, EVENT_ID_HEADER, signature_headers
from notifier.config import Settings
from notifier.deliveries import service
from notifier.deliveries.models import Delivery

log = structlog.get_logger(__name__)


class DeliveryDispatcher:
    """Background worker: claim due deliveries, POST them signed, record the outcome."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        batch_size: int = 50,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._batch_size = batch_size
        self._http = http
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        owns_client = self._http is None
        http = self._http or httpx.AsyncClient(timeout=self._settings.webhook_timeout_s)
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()
                try:
                    sent = await self.dispatch_once(http)
                except Exception as exc:  # the database may be away: keep trying
                    log.warning("dispatcher.error", error=repr(exc))
                    sent = 0
                if sent < self._batch_size:
                    poll = self._settings.dispatch_poll_interval_s
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=poll)
        finally:
            if owns_client:
                await http.aclose()

    async def dispatch_once(self, http: httpx.AsyncClient) -> int:
        async with unit_of_work(self._sessions) as session:
            claimed = await service.claim_due(session, limit=self._batch_size)
        if not claimed:
            return 0
        attempts = await asyncio.gather(*(self._send(http, d) for d in claimed))
        async with unit_of_work(self._sessions) as session:
            for delivery, attempt in zip(claimed, attempts, strict=True):
                status = await service.record_attempt(
                    session,
                    delivery,
                    attempt,
                    max_attempts=self._settings.max_attempts,
                    retry_base_s=self._settings.retry_base_s,
                    retry_cap_s=self._settings.retry_cap_s,
                )
                log.info(
                    "delivery.attempted",
                    delivery_id=str(delivery.id),
                    event_id=delivery.event_id,
                    attempt=delivery.attempts,
                    outcome=status.value,
                    http_status=attempt.status_code,
                )
        return len(claimed)

    async def _send(self, http: httpx.AsyncClient, delivery: Delivery) -> service.Attempt:
        body = service.encode_body(delivery.body)
        secret = self._settings.webhook_secret.get_secret_value()
        headers = {
            "Content-Type": "application/cloudevents+json",
            # Stable across retries: the receiver's key to recognise a repeat.
            DELIVERY_ID_HEADER: str(delivery.id),
            EVENT_ID_HEADER: delivery.event_id,
            **signature_headers(secret, body),
        }
        try:
            response = await http.post(delivery.recipient, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return service.Attempt(status_code=None, error=f"{type(exc).__name__}: {exc}"[:2000])
        return service.Attempt(status_code=response.status_code)
