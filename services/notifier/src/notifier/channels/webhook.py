"""Webhook: the body as JSON, signed with HMAC-SHA256 over "{timestamp}.{body}".

The signature scheme is gov_common.signing; the README shows how a receiver verifies it.
"""

from __future__ import annotations

import httpx
import orjson

from gov_common.signing import DELIVERY_ID_HEADER, EVENT_ID_HEADER, signature_headers
from notifier.channels.base import Attempt, ChannelName, Outbound, http_verdict


class WebhookChannel:
    name = ChannelName.WEBHOOK

    def __init__(self, http: httpx.AsyncClient, *, secret: str) -> None:
        self._http = http
        self._secret = secret

    async def send(self, outbound: Outbound) -> Attempt:
        body = orjson.dumps(outbound.body)
        headers = {
            "Content-Type": "application/cloudevents+json",
            # Stable across retries: the receiver's key to recognise a repeat.
            DELIVERY_ID_HEADER: outbound.delivery_id,
            EVENT_ID_HEADER: outbound.event_id,
            **signature_headers(self._secret, body),
        }
        try:
            response = await self._http.post(outbound.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
        return http_verdict(response.status_code)
