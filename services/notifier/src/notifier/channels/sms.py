"""SMS through a provider adapter: Tencent Cloud SMS (SendSms, API 2021-01-11, signed with
TC3-HMAC-SHA256), or a sandbox that only records what it would have sent.

Mainland SMS providers send only pre-approved templates with parameters, never free text: the
rendered message goes in as the single parameter of NOTIFIER_TENCENT_SMS_TEMPLATE_ID (a
template such as "{1}"); keep SMS variants short enough for the provider's parameter limit.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson

from notifier.channels.base import Attempt, ChannelName, Outbound, http_verdict
from notifier.config import Settings

TC3_ALGORITHM = "TC3-HMAC-SHA256"
TC3_CONTENT_TYPE = "application/json; charset=utf-8"
SMS_API_VERSION = "2021-01-11"


class SmsProvider(Protocol):
    async def send(self, *, phone: str, text: str, reference: str) -> Attempt: ...


@dataclass
class SandboxSmsProvider:
    """Sends nothing; keeps what it was asked to send (for development and tests)."""

    sent: list[dict[str, str]] = field(default_factory=list)

    async def send(self, *, phone: str, text: str, reference: str) -> Attempt:
        self.sent.append({"phone": phone, "text": text, "reference": reference})
        return Attempt(ok=True, status_code=200)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    payload: bytes,
    timestamp: int,
    content_type: str = TC3_CONTENT_TYPE,
) -> str:
    """The Authorization header of a Tencent Cloud API 3.0 POST (signature v3, TC3-HMAC-SHA256)."""
    signed_headers = "content-type;host"
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",  # POST: no query string
            f"content-type:{content_type}\nhost:{host}\n",
            signed_headers,
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    # The credential date is the UTC date of the timestamp, whatever the local zone.
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [
            TC3_ALGORITHM,
            str(timestamp),
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    signing_key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{TC3_ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


# Error codes worth another try later: throttling and the provider's own trouble.
_TENCENT_RETRYABLE_PREFIXES = ("LimitExceeded", "RequestLimitExceeded", "InternalError")


class TencentSmsProvider:
    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        assert settings.tencent_secret_id and settings.tencent_secret_key
        self._settings = settings
        self._http = http
        self._endpoint = str(settings.tencent_sms_endpoint)
        self._host = httpx.URL(self._endpoint).netloc.decode()

    def request(
        self, *, phone: str, text: str, reference: str, now: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        s = self._settings
        payload: dict[str, Any] = {
            "PhoneNumberSet": [phone],
            "SmsSdkAppId": s.tencent_sms_app_id,
            "SignName": s.tencent_sms_sign_name,
            "TemplateId": s.tencent_sms_template_id,
            "TemplateParamSet": [text],
            "SessionContext": reference,  # comes back in status reports: our delivery id
        }
        body = orjson.dumps(payload)
        timestamp = int(time.time()) if now is None else now
        assert s.tencent_secret_id and s.tencent_secret_key
        headers = {
            "Authorization": tc3_authorization(
                secret_id=s.tencent_secret_id,
                secret_key=s.tencent_secret_key.get_secret_value(),
                service="sms",
                host=self._host,
                payload=body,
                timestamp=timestamp,
            ),
            "Content-Type": TC3_CONTENT_TYPE,
            "Host": self._host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": SMS_API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": s.tencent_sms_region,
        }
        return headers, body

    async def send(self, *, phone: str, text: str, reference: str) -> Attempt:
        headers, body = self.request(phone=phone, text=text, reference=reference)
        try:
            response = await self._http.post(self._endpoint, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
        verdict = http_verdict(response.status_code)
        if not verdict.ok:
            return verdict
        try:
            answer = response.json()["Response"]
        except (ValueError, KeyError, TypeError):
            return Attempt(ok=False, status_code=response.status_code, error="answer not JSON")
        error = answer.get("Error")
        if error:
            code = str(error.get("Code", ""))
            return Attempt(
                ok=False,
                status_code=response.status_code,
                error=f"Tencent SMS {code}: {error.get('Message', '')}"[:2000],
                permanent=not code.startswith(_TENCENT_RETRYABLE_PREFIXES),
            )
        statuses = answer.get("SendStatusSet") or [{}]
        code = str(statuses[0].get("Code", ""))
        if code.lower() == "ok":
            return Attempt(ok=True, status_code=response.status_code)
        return Attempt(
            ok=False,
            status_code=response.status_code,
            error=f"Tencent SMS {code}: {statuses[0].get('Message', '')}"[:2000],
            permanent=not code.startswith(_TENCENT_RETRYABLE_PREFIXES),
        )


class SmsChannel:
    name = ChannelName.SMS

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    async def send(self, outbound: Outbound) -> Attempt:
        return await self.provider.send(
            phone=outbound.address,
            text=outbound.body.get("text", ""),
            reference=outbound.delivery_id,
        )
