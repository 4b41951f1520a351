"""The one interface every channel implements, and the names of the channels."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class ChannelName(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉群机器人


@dataclass(frozen=True)
class Outbound:
    """What one delivery sends: its id (stable across retries), where to, and the message."""

    delivery_id: str
    event_id: str
    address: str
    body: dict[str, Any]
    secret: str | None = None  # e.g. the DingTalk robot's signing secret, read at send time
    # A webhook's signing secrets (whsec_…), read at send time: the endpoint's current one,
    # and its previous one while a rotation's overlap lasts.
    signing_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attempt:
    """What one try at sending produced.

    ``permanent`` means trying again cannot help (a refused address, a rejected request);
    otherwise an unsuccessful attempt is retried with backoff until attempts run out.
    """

    ok: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False


class Channel(Protocol):
    name: ChannelName

    async def send(self, outbound: Outbound) -> Attempt: ...


def http_verdict(status_code: int, error: str | None = None) -> Attempt:
    """Judge an HTTP answer: 2xx ok; 4xx the request is wrong (except the retryable ones)."""
    if 200 <= status_code < 300:
        return Attempt(ok=True, status_code=status_code)
    permanent = 400 <= status_code < 500 and status_code not in (408, 409, 425, 429)
    return Attempt(
        ok=False,
        status_code=status_code,
        error=error or f"receiver answered HTTP {status_code}",
        permanent=permanent,
    )
