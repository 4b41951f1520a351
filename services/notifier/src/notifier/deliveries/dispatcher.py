"""Sends due deliveries over their channel and records each attempt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import timedelta

import httpx
import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gov_common.db import after_commit, unit_of_work
from gov_common.events.contracts import NOTIFIER_DELIVERY_EVENTS
from gov_common.metrics import NOTIFIER_DELIVERIES
from gov_common.security.crypto import DecryptionError, FieldCipher
from gov_common.security.setup import field_cipher
from gov_common.tracing import span_from_event
from notifier.channels.base import Attempt, Channel, ChannelName, Outbound
from notifier.channels.email import EmailChannel
from notifier.channels.robots import DingtalkRobotChannel, WecomRobotChannel
from notifier.channels.sms import SandboxSmsProvider, SmsChannel, SmsProvider, TencentSmsProvider
from notifier.channels.webhook import WebhookChannel
from notifier.config import Settings
from notifier.deliveries import service
from notifier.deliveries.models import Delivery
from notifier.deliveries.ratelimit import RateLimits
from notifier.privacy import delivery_context, recipient_context, scrub, unseal
from notifier.recipients.models import Recipient
from notifier.recipients.webhook_secrets import signing_secrets

log = structlog.get_logger(__name__)


def build_channels(
    settings: Settings, http: httpx.AsyncClient, *, sms: SmsProvider | None = None
) -> dict[str, Channel]:
    if sms is None:
        sms = (
            TencentSmsProvider(settings, http)
            if settings.sms_provider == "tencent"
            else SandboxSmsProvider()
        )
    channels: list[Channel] = [
        WebhookChannel(http),
        EmailChannel(settings),
        SmsChannel(sms),
        WecomRobotChannel(http),
        DingtalkRobotChannel(http),
    ]
    return {c.name.value: c for c in channels}


class DeliveryDispatcher:
    """Background worker: claim due deliveries per channel within its rate, send, record."""

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        http: httpx.AsyncClient | None = None,
        channels: Mapping[str, Channel] | None = None,
        cipher: FieldCipher | None = None,
    ) -> None:
        self._sessions = session_factory
        self._settings = settings
        self._cipher = cipher or field_cipher(settings)
        self._batch_size = settings.dispatch_batch_size
        self._lease = timedelta(seconds=settings.claim_lease_s)
        self._owns_http = http is None
        # As many kept-alive connections as sends in flight: with httpx's default (20) every
        # send beyond the 20th closed its connection afterwards and the next one reconnected.
        connections = httpx.Limits(
            max_connections=max(100, self._batch_size),
            max_keepalive_connections=self._batch_size,
        )
        self._http = http or httpx.AsyncClient(
            timeout=settings.webhook_timeout_s, limits=connections
        )
        self.channels = (
            dict(channels) if channels is not None else build_channels(settings, self._http)
        )
        self._limits = RateLimits(settings.parsed_rate_limits())
        self._events_topic = settings.topic(NOTIFIER_DELIVERY_EVENTS)
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        # Sends started the moment a consumer's transaction committed, and their outcomes
        # waiting to be recorded together (see send_after_commit).
        self._direct: set[asyncio.Task[None]] = set()
        # Direct sends claimed in a transaction not committed yet: the consumer plans a whole
        # batch of events in one, and they count against the in-flight cap as well.
        self._awaiting_commit = 0
        self._finished: list[tuple[Delivery, Attempt, str | None]] = []
        self._record_wakeup = asyncio.Event()
        self._draining = False

    def wake(self) -> None:
        self._wakeup.set()

    def take_send(self, channel: str) -> bool:
        """May a delivery on ``channel`` be sent right now, outside the claim rounds?

        Yes while fewer than a batch of direct sends are in flight or awaiting their
        transaction's commit, and the channel's rate
        has a send left (taken here, so the per-channel throttle holds for both paths).
        """
        in_flight = len(self._direct) + self._awaiting_commit
        return in_flight < self._batch_size and self._limits.try_acquire(channel)

    def send_after_commit(
        self, session: AsyncSession, claimed: list[Delivery], *, wake: bool = False
    ) -> None:
        """Send ``claimed`` (claimed in ``session``'s transaction) once that transaction commits.

        Why this is safe — the claim protocol is the same as the dispatcher's own rounds:
        the deliveries were claimed in the planning transaction (one attempt counted, leased
        for NOTIFIER_CLAIM_LEASE_S), so
        - rolled back: neither the deliveries nor the claim exist, and nothing is sent (the
          listener below only runs after a commit);
        - the process dies after the commit and before the send: nothing was sent; the lease
          ends and a dispatcher claims and sends them (once);
        - it dies during the send, before the outcome is recorded: sent again after the lease
          with the same delivery id, as after a crash in a claim round (receivers drop repeats
          by webhook-id, the delivery id);
        - the outcome is recorded only where the delivery is still pending at that attempt,
          so a late result never overwrites a later claim's.
        ``wake`` also wakes the claim rounds after the commit, for deliveries left to them
        (over a channel's rate).
        """
        if not claimed and not wake:
            return
        if claimed:
            self._awaiting_commit += 1

        def committed() -> None:
            if claimed:
                self._awaiting_commit -= 1
            if wake:
                self._wakeup.set()
            if claimed and not self._stopping.is_set():  # stopping: the lease covers them
                task = asyncio.get_running_loop().create_task(self._send_now(claimed))
                self._direct.add(task)
                task.add_done_callback(self._direct.discard)

        def discarded() -> None:
            if claimed:
                self._awaiting_commit -= 1

        # The real commit, not a savepoint's release: the consumer runs each event's handler
        # in a savepoint of its batch transaction.
        after_commit(session, committed, on_discard=discarded)

    async def _send_now(self, claimed: list[Delivery]) -> None:
        try:
            # Opens a connection only for DingTalk robots and recipients' webhooks.
            async with self._sessions() as session:
                secrets = await self._dingtalk_secrets(session, claimed)
                hook_secrets = await self._webhook_secrets(session, claimed)
            addresses = {d.id: self._address(d) for d in claimed}
            attempts = await asyncio.gather(
                *(self._send(d, addresses[d.id], secrets, hook_secrets, paid=True) for d in claimed)
            )
        except Exception as exc:  # left to the lease, like a send that died
            log.warning("dispatcher.direct_send_error", error=scrub(repr(exc)))
            return
        self._finished.extend(
            (d, a, addresses[d.id]) for d, a in zip(claimed, attempts, strict=True)
        )
        self._record_wakeup.set()

    async def _record_finished(self) -> None:
        """Records the direct sends' outcomes, whatever finished meanwhile in one transaction;
        once draining (stopping, the sends in flight done), records the rest and returns."""
        while True:
            await self._record_wakeup.wait()
            self._record_wakeup.clear()
            batch, self._finished = self._finished, []
            if batch:
                try:
                    await self._record(batch)
                except Exception as exc:  # the database may be away: keep them, try again
                    log.warning("dispatcher.record_error", error=scrub(repr(exc)))
                    if self._draining:
                        return  # the lease covers them
                    self._finished = batch + self._finished
                    await asyncio.sleep(0.5)
                    self._record_wakeup.set()
                    continue
            if self._draining and not self._finished:
                return

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        self._draining = False
        recorder = asyncio.create_task(self._record_finished())
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()
                try:
                    sent = await self.dispatch_once()
                except Exception as exc:  # the database may be away: keep trying
                    log.warning("dispatcher.error", error=scrub(repr(exc)))
                    sent = 0
                if sent == 0:
                    poll = self._settings.dispatch_poll_interval_s
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=poll)
        finally:
            # Sends in flight finish and are recorded (a send cut off is left to the lease).
            if self._direct:
                await asyncio.wait(set(self._direct), timeout=self._settings.webhook_timeout_s)
            self._draining = True
            self._record_wakeup.set()
            await recorder
            if self._owns_http:
                await self._http.aclose()

    async def dispatch_once(self) -> int:
        """One round over every channel; how many deliveries were attempted."""
        claimed: list[Delivery] = []
        async with unit_of_work(self._sessions) as session:
            for name in self.channels:
                budget = self._limits.budget(name, default=self._batch_size)
                claimed += await service.claim_due(
                    session, limit=budget, lease=self._lease, channels=[name]
                )
            secrets = await self._dingtalk_secrets(session, claimed)
            hook_secrets = await self._webhook_secrets(session, claimed)
        if not claimed:
            return 0
        addresses = {d.id: self._address(d) for d in claimed}
        attempts = await asyncio.gather(
            *(self._send(d, addresses[d.id], secrets, hook_secrets) for d in claimed)
        )
        await self._record(
            [(d, a, addresses[d.id]) for d, a in zip(claimed, attempts, strict=True)]
        )
        return len(claimed)

    async def _record(self, batch: list[tuple[Delivery, Attempt, str | None]]) -> None:
        """Record a batch of attempts in one transaction (one UPDATE, one outbox INSERT)."""
        async with unit_of_work(self._sessions) as session:
            statuses = await service.record_attempts(
                session,
                batch,
                max_attempts=self._settings.max_attempts,
                retry_base_s=self._settings.retry_base_s,
                retry_cap_s=self._settings.retry_cap_s,
                events_topic=self._events_topic,
            )
        for (delivery, attempt, address), status in zip(batch, statuses, strict=True):
            # Ids, never addresses: whom it went to is the recipient id.
            log.info(
                "delivery.attempted",
                delivery_id=str(delivery.id),
                event_id=delivery.event_id,
                recipient_id=str(delivery.recipient_id) if delivery.recipient_id else None,
                channel=delivery.channel,
                attempt=delivery.attempts,
                outcome=status.value,
                status_code=attempt.status_code,
                error=scrub(attempt.error, [address]) if attempt.error else None,
            )
            # Counted once the outcomes are committed.
            NOTIFIER_DELIVERIES.labels(delivery.channel, status.value).inc()

    def _address(self, delivery: Delivery) -> str | None:
        """The address the delivery goes to, decrypted; None when it cannot be (a retired key
        or a damaged value), which fails the delivery with that reason."""
        try:
            return self._cipher.decrypt(delivery.recipient, context=delivery_context(delivery.id))
        except (DecryptionError, ValueError) as exc:
            log.warning("delivery.address_unreadable", delivery_id=str(delivery.id), error=str(exc))
            return None

    async def _dingtalk_secrets(
        self, session: AsyncSession, claimed: list[Delivery]
    ) -> dict[object, str | None]:
        ids = {
            d.recipient_id
            for d in claimed
            if d.channel == ChannelName.DINGTALK.value and d.recipient_id is not None
        }
        if not ids:
            return {}
        rows = await session.execute(
            select(Recipient.id, Recipient.dingtalk_secret).where(Recipient.id.in_(ids))
        )
        secrets: dict[object, str | None] = {}
        for rid, sealed in rows.tuples():
            try:
                secrets[rid] = unseal(
                    self._cipher, sealed, context=recipient_context(rid, "dingtalk_secret")
                )
            except (DecryptionError, ValueError) as exc:
                # Sent unsigned, the robot refuses it: the delivery fails with its reason.
                log.warning("recipient.secret_unreadable", recipient_id=str(rid), error=str(exc))
                secrets[rid] = None
        return secrets

    async def _webhook_secrets(
        self, session: AsyncSession, claimed: list[Delivery]
    ) -> dict[object, tuple[str, ...]]:
        """The signing secrets of the recipients' webhooks among ``claimed``, read now (so a
        rotation applies to retries too); a recipient whose secret cannot be read gets none,
        and its delivery fails rather than go out unsigned or under another's secret."""
        ids = {
            d.recipient_id
            for d in claimed
            if d.channel == ChannelName.WEBHOOK.value and d.recipient_id is not None
        }
        if not ids:
            return {}
        rows = await session.execute(
            select(
                Recipient.id,
                Recipient.webhook_secret,
                Recipient.webhook_previous_secret,
                Recipient.webhook_previous_secret_expires_at,
            ).where(Recipient.id.in_(ids))
        )
        found: dict[object, tuple[str, ...]] = {}
        for rid, current, previous, expires_at in rows.all():
            try:
                found[rid] = signing_secrets(
                    self._cipher,
                    rid,
                    current=current,
                    previous=previous,
                    previous_expires_at=expires_at,
                )
            except (DecryptionError, ValueError) as exc:
                log.warning("recipient.secret_unreadable", recipient_id=str(rid), error=str(exc))
                found[rid] = ()
        return found

    def _signing_secrets(
        self, delivery: Delivery, hook_secrets: dict[object, tuple[str, ...]]
    ) -> tuple[str, ...]:
        if delivery.channel != ChannelName.WEBHOOK.value:
            return ()
        if delivery.recipient_id is None:  # the built-in rule's NOTIFIER_WEBHOOK_URL
            return self._settings.builtin_webhook_secrets()
        return hook_secrets.get(delivery.recipient_id, ())

    async def _send(
        self,
        delivery: Delivery,
        address: str | None,
        secrets: dict[object, str | None],
        hook_secrets: dict[object, tuple[str, ...]],
        *,
        paid: bool = False,
    ) -> Attempt:
        """One try; ``paid``: its send was already taken from the channel's rate."""
        channel = self.channels.get(delivery.channel)
        if channel is None:
            return Attempt(ok=False, error=f"no channel {delivery.channel!r}", permanent=True)
        if address is None:
            return Attempt(
                ok=False,
                error="the address cannot be decrypted: is its key still in GOV_PII_KEYS?",
                permanent=True,
            )
        if not paid:
            await self._limits.acquire(delivery.channel)
        outbound = Outbound(
            delivery_id=str(delivery.id),
            event_id=delivery.event_id,
            address=address,
            body=delivery.body,
            secret=secrets.get(delivery.recipient_id),
            signing_secrets=self._signing_secrets(delivery, hook_secrets),
        )
        try:
            with span_from_event(
                f"deliver {delivery.channel}", delivery.traceparent, kind=SpanKind.PRODUCER
            ) as span:
                span.set_attribute("gov.delivery_id", str(delivery.id))
                return await channel.send(outbound)
        except Exception as exc:  # a channel's bug must not stop the others' records
            # No traceback: its frames' text may hold the address; the scrubbed message and
            # the exception type are what is safe to keep.
            error = scrub(f"{type(exc).__name__}: {exc}", [address])[:2000]
            log.error("delivery.channel_error", delivery_id=str(delivery.id), error=error)
            return Attempt(ok=False, error=error)
