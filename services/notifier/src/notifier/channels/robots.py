"""Group robots Chinese offices use: WeCom (企业微信) and DingTalk (钉钉), in their own JSON.

Both answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; a non-zero errcode is a refusal,
retryable only when it is throttling or a busy system.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus

import httpx

from notifier.channels.base import Attempt, ChannelName, Outbound, http_verdict

WECOM_RETRYABLE = frozenset({-1, 45009})  # system busy; API frequency limit
DINGTALK_RETRYABLE = frozenset({-1, 130101})  # system busy; sending too fast


# WeCom refuses markdown content over 4,096 bytes of UTF-8 (errcode 40058), for good: a
# Chinese character takes 3 bytes, so the limit is about 1,365 characters, not 4,096.
WECOM_MARKDOWN_MAX_BYTES = 4096
TRUNCATED_MARK = "…（内容过长，已截断）"


def cut_to_bytes(text: str, limit: int, mark: str = TRUNCATED_MARK) -> str:
    """``text`` within ``limit`` bytes of UTF-8, cut on a character boundary; when cut, it
    ends with ``mark`` (counted in the limit), so the reader knows there was more."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    room = limit - len(mark.encode())
    # errors="ignore" drops the partial character a byte cut may leave at the end.
    return encoded[: max(room, 0)].decode("utf-8", errors="ignore") + mark


def wecom_body(title: str | None, text: str) -> dict[str, Any]:
    content = f"**{title}**\n{text}" if title else text
    return {
        "msgtype": "markdown",
        "markdown": {"content": cut_to_bytes(content, WECOM_MARKDOWN_MAX_BYTES)},
    }


def dingtalk_body(title: str | None, text: str) -> dict[str, Any]:
    heading = title or "政务提醒"
    return {
        "msgtype": "markdown",
        "markdown": {"title": heading, "text": f"#### {heading}\n\n{text}"},
    }


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk 加签: base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")), URL-encoded."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def dingtalk_url(webhook_url: str, secret: str | None, *, now_ms: int | None = None) -> str:
    if not secret:
        return webhook_url
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    joiner = "&" if "?" in webhook_url else "?"
    return f"{webhook_url}{joiner}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"


async def _post_robot(
    http: httpx.AsyncClient, url: str, body: dict[str, Any], retryable: frozenset[int]
) -> Attempt:
    try:
        response = await http.post(url, json=body)
    except httpx.HTTPError as exc:
        return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
    verdict = http_verdict(response.status_code)
    if not verdict.ok:
        return verdict
    try:
        answer = response.json()
        code = int(answer.get("errcode", -1))
    except (ValueError, AttributeError, TypeError):
        return Attempt(ok=False, status_code=response.status_code, error="robot answer not JSON")
    if code == 0:
        return Attempt(ok=True, status_code=response.status_code)
    return Attempt(
        ok=False,
        status_code=response.status_code,
        error=f"robot errcode {code}: {answer.get('errmsg', '')}"[:2000],
        permanent=code not in retryable,
    )


class WecomRobotChannel:
    name = ChannelName.WECOM

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, outbound: Outbound) -> Attempt:
        body = wecom_body(outbound.body.get("title"), outbound.body.get("text", ""))
        return await _post_robot(self._http, outbound.address, body, WECOM_RETRYABLE)


class DingtalkRobotChannel:
    name = ChannelName.DINGTALK

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def send(self, outbound: Outbound) -> Attempt:
        body = dingtalk_body(outbound.body.get("title"), outbound.body.get("text", ""))
        # Signed at send time: DingTalk refuses a timestamp older than an hour.
        url = dingtalk_url(outbound.address, outbound.secret)
        return await _post_robot(self._http, url, body, DINGTALK_RETRYABLE)
