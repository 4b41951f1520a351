"""Each channel's wire format against real local servers or the provider's published vector."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from dataclasses import replace
from email import message_from_bytes
from email.header import decode_header, make_header
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gov_common.signing import generate_secret
from notifier.channels.base import Outbound
from notifier.channels.email import EmailChannel
from notifier.channels.robots import (
    DingtalkRobotChannel,
    WecomRobotChannel,
    cut_to_bytes,
    dingtalk_sign,
)
from notifier.channels.sms import (
    SandboxSmsProvider,
    SmsChannel,
    TencentSmsProvider,
    tc3_authorization,
)
from notifier.channels.webhook import WebhookChannel
from notifier.config import Settings

from .conftest import Receiver, running

OUT = Outbound(
    delivery_id="8a4c1c8e-0000-4000-8000-000000000001",
    event_id="evt-1",
    address="",
    body={"subject": "【超期】XF2026-0042", "title": "【超期】XF2026-0042", "text": "请尽快办理。"},
)


BLACKLISTED = {"Response": {"SendStatusSet": [{"Code": "FailedOperation.PhoneNumberInBlacklist"}]}}


def _to(address: str, **body: Any) -> Outbound:
    return Outbound(
        delivery_id=OUT.delivery_id,
        event_id=OUT.event_id,
        address=address,
        body=body or OUT.body,
        secret=None,
    )


def test_tc3_signature_matches_tencent_clouds_documented_example() -> None:
    # "Signature v3" in Tencent Cloud's API docs: CVM DescribeInstances, 2019-02-25.
    payload = (
        rb'{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], '
        rb'"Name": "instance-name"}]}'
    )
    authorization = tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        payload=payload,
        timestamp=1551113065,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def _tencent_settings(endpoint: str) -> Settings:
    return Settings.model_validate(
        {
            "NOTIFIER_SMS_PROVIDER": "tencent",
            "NOTIFIER_TENCENT_SECRET_ID": "AKIDtest",
            "NOTIFIER_TENCENT_SECRET_KEY": "test-key",
            "NOTIFIER_TENCENT_SMS_APP_ID": "1400000000",
            "NOTIFIER_TENCENT_SMS_SIGN_NAME": "印台区政务",
            "NOTIFIER_TENCENT_SMS_TEMPLATE_ID": "123456",
            "NOTIFIER_TENCENT_SMS_ENDPOINT": endpoint,
        }
    )


async def test_tencent_sms_sends_a_signed_sendsms_request_and_reads_the_answer() -> None:
    answer = {"Response": {"SendStatusSet": [{"Code": "Ok", "Message": "send success"}]}}
    async with running(Receiver(answer=answer)) as receiver, httpx.AsyncClient() as http:
        settings = _tencent_settings(f"http://127.0.0.1:{receiver.port}/")
        channel = SmsChannel(TencentSmsProvider(settings, http))
        attempt = await channel.send(_to("+8613800000000", text="案件XF2026-0042已超期"))
    assert attempt.ok, attempt
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert headers["x-tc-action"] == "SendSms" and headers["x-tc-version"] == "2021-01-11"
    assert headers["content-type"] == "application/json; charset=utf-8"
    sent = orjson.loads(body)
    assert sent["PhoneNumberSet"] == ["+8613800000000"]
    assert sent["TemplateParamSet"] == ["案件XF2026-0042已超期"]
    assert sent["SmsSdkAppId"] == "1400000000" and sent["TemplateId"] == "123456"
    assert sent["SessionContext"] == OUT.delivery_id
    # The signature covers exactly what was sent.
    assert headers["authorization"] == tc3_authorization(
        secret_id="AKIDtest",
        secret_key="test-key",
        service="sms",
        host=f"127.0.0.1:{receiver.port}",
        payload=body,
        timestamp=int(headers["x-tc-timestamp"]),
    )


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [
        ({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}}, True),
        ({"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "x"}}}, False),
        (BLACKLISTED, True),
    ],
)
async def test_tencent_sms_refusals_are_judged(answer: dict[str, Any], permanent: bool) -> None:
    async with running(Receiver(answer=answer)) as receiver, httpx.AsyncClient() as http:
        channel = SmsChannel(TencentSmsProvider(_tencent_settings(receiver.url), http))
        attempt = await channel.send(_to("+8613800000000", text="x"))
    assert not attempt.ok and attempt.permanent is permanent and attempt.error


async def test_the_sandbox_sms_provider_only_records() -> None:
    sandbox = SandboxSmsProvider()
    attempt = await SmsChannel(sandbox).send(_to("+8613800000000", text="测试"))
    assert attempt.ok
    assert sandbox.sent == [
        {"phone": "+8613800000000", "text": "测试", "reference": OUT.delivery_id}
    ]


async def test_the_webhook_is_signed_per_standard_webhooks_and_carries_the_delivery_id() -> None:
    secret, previous = generate_secret(), generate_secret()
    outbound = replace(_to("", a=1), signing_secrets=(secret, previous))
    async with running(Receiver()) as receiver, httpx.AsyncClient() as http:
        outbound = replace(outbound, address=receiver.url)
        attempt = await WebhookChannel(http).send(outbound)
    assert attempt.ok
    [request] = receiver.requests
    headers = request["headers"]
    assert headers["webhook-id"] == OUT.delivery_id
    assert headers["x-gov-event-id"] == OUT.event_id
    # One "v1,<base64>" entry per secret, space-separated; the stock verifier takes either.
    assert [s.split(",")[0] for s in headers["webhook-signature"].split(" ")] == ["v1", "v1"]
    for key in (secret, previous):
        Webhook(key).verify(request["body"], headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(request["body"], headers)


async def test_a_webhook_without_a_signing_secret_is_never_sent() -> None:
    async with running(Receiver()) as receiver, httpx.AsyncClient() as http:
        attempt = await WebhookChannel(http).send(_to(receiver.url))
    assert not attempt.ok and attempt.permanent and "signing secret" in (attempt.error or "")
    assert receiver.requests == []


async def test_wecom_robot_gets_markdown_and_its_errcode_is_judged() -> None:
    ok_robot = Receiver(answer={"errcode": 0, "errmsg": "ok"})
    async with running(ok_robot), httpx.AsyncClient() as http:
        attempt = await WecomRobotChannel(http).send(_to(ok_robot.url + "?key=k1"))
    assert attempt.ok
    sent = orjson.loads(ok_robot.requests[0]["body"])
    assert sent == {
        "msgtype": "markdown",
        "markdown": {"content": "**【超期】XF2026-0042**\n请尽快办理。"},
    }
    assert ok_robot.requests[0]["target"] == "/hook?key=k1"

    busy = Receiver(answer={"errcode": 45009, "errmsg": "api freq out of limit"})
    async with running(busy), httpx.AsyncClient() as http:
        attempt = await WecomRobotChannel(http).send(_to(busy.url))
    assert not attempt.ok and not attempt.permanent and "45009" in (attempt.error or "")


async def test_a_long_chinese_wecom_message_is_cut_to_4096_bytes_on_a_character_boundary() -> None:
    # 3,000 Chinese characters are 9,000 bytes: WeCom answers errcode 40058 above 4,096 bytes.
    text = "".join("陈炉镇信访办请尽快办理超期案件"[i % 15] for i in range(3000))
    robot = Receiver(answer={"errcode": 0, "errmsg": "ok"})
    async with running(robot), httpx.AsyncClient() as http:
        attempt = await WecomRobotChannel(http).send(_to(robot.url, title="【超期】", text=text))
    assert attempt.ok
    content = orjson.loads(robot.requests[0]["body"])["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096
    assert content.endswith("（内容过长，已截断）")
    kept = content.removesuffix("…（内容过长，已截断）")
    assert f"**【超期】**\n{text}".startswith(kept) and len(kept.encode()) > 4000
    # A message within the limit goes as it is, byte for byte.
    assert cut_to_bytes("请尽快办理。", 4096) == "请尽快办理。"
    assert cut_to_bytes("办理", 4, mark="") == "办"  # never half a character


async def test_dingtalk_robot_is_signed_with_timestamp_and_secret() -> None:
    secret = "SEC0123456789abcdef"
    robot = Receiver(answer={"errcode": 0, "errmsg": "ok"})
    async with running(robot), httpx.AsyncClient() as http:
        outbound = Outbound(
            delivery_id=OUT.delivery_id,
            event_id=OUT.event_id,
            address=robot.url + "?access_token=tok",
            body=OUT.body,
            secret=secret,
        )
        attempt = await DingtalkRobotChannel(http).send(outbound)
    assert attempt.ok
    request = robot.requests[0]
    query = parse_qs(urlsplit(request["target"]).query)
    timestamp = query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["access_token"] == ["tok"]
    assert query["sign"] == [expected]  # parse_qs undoes the URL encoding
    assert unquote_plus(dingtalk_sign(secret, int(timestamp))) == expected
    sent = orjson.loads(request["body"])
    assert sent["msgtype"] == "markdown"
    assert sent["markdown"]["title"] == "【超期】XF2026-0042"
    assert "请尽快办理。" in sent["markdown"]["text"]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


async def test_email_goes_through_a_real_smtp_server() -> None:
    from .conftest import free_port

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        settings = Settings.model_validate(
            {"NOTIFIER_SMTP_HOST": "127.0.0.1", "NOTIFIER_SMTP_PORT": port}
        )
        attempt = await EmailChannel(settings).send(_to("xfb@chenlu.example"))
    finally:
        await asyncio.to_thread(controller.stop)
    assert attempt.ok, attempt
    [(rcpt, content)] = inbox.messages
    assert rcpt == ["xfb@chenlu.example"]
    message = message_from_bytes(content)
    assert str(make_header(decode_header(message["Subject"]))) == "【超期】XF2026-0042"
    assert message["Message-ID"] == f"<{OUT.delivery_id}@notifier.gov-suite>"
    assert message.get_payload(decode=True).decode().strip() == "请尽快办理。"


async def test_email_to_an_unreachable_server_is_retryable() -> None:
    from .conftest import free_port

    settings = Settings.model_validate(
        {"NOTIFIER_SMTP_HOST": "127.0.0.1", "NOTIFIER_SMTP_PORT": free_port()}
    )
    attempt = await EmailChannel(settings).send(_to("a@b.example"))
    assert not attempt.ok and not attempt.permanent and attempt.error
