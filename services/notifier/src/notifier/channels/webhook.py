"""Webhook: the body as CloudEvents JSON, signed per Standard Webhooks.

Headers ``webhook-id`` (the delivery id, stable across retries), ``webhook-timestamp`` and
``webhook-signature`` (HMAC-SHA256 over ``"{id}.{timestamp}.{body}"``, one ``v1,…`` entry per
secret of the endpoint): see gov_common.signing; the README shows how a receiver verifies it.
"""

from __future__ import annotations

import httpx
import orjson

from gov_common.signing import EVENT_ID_HEADER, signature_headers
from notifier.channels.base import Attempt, ChannelName, Outbound, http_verdict


class WebhookChannel:
    name = ChannelName.WEBHOOK

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, outbound: Outbound) -> Attempt:
        if not outbound.signing_secrets:
            # Never sent unsigned, nor with another endpoint's secret.
            return Attempt(
                ok=False,
                error="the webhook has no readable signing secret: rotate it "
                "(POST /v1/recipients/{id}/webhook-secret/rotate)",
                permanent=True,
            )
        body = orjson.dumps(outbound.body)
        headers = {
            "Content-Type": "application/cloudevents+json",
            EVENT_ID_HEADER: outbound.event_id,
            # webhook-id is the delivery id: the same on every retry, the receiver's key to
            # recognise a repeat.
            **signature_headers(outbound.signing_secrets, msg_id=outbound.delivery_id, body=body),
        }
        try:
            response = await self._http.post(outbound.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
        return http_verdict(response.status_code)
