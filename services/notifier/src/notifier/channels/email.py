"""Email over SMTP (aiosmtplib), plain text in UTF-8.

The Message-ID is derived from the delivery id, so a mail client or archive that sees the same
delivery twice (a crash between sending and recording) can tell it is one message.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from notifier.channels.base import Attempt, ChannelName, Outbound
from notifier.config import Settings


class EmailChannel:
    name = ChannelName.EMAIL

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def message(self, outbound: Outbound) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._settings.smtp_from
        message["To"] = outbound.address
        message["Subject"] = outbound.body.get("subject") or "政务提醒"
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = f"<{outbound.delivery_id}@notifier.gov-suite>"
        message["X-Gov-Delivery-Id"] = outbound.delivery_id
        message["X-Gov-Event-Id"] = outbound.event_id
        message.set_content(outbound.body.get("text", ""), charset="utf-8")
        return message

    async def send(self, outbound: Outbound) -> Attempt:
        s = self._settings
        if s.smtp_host is None:
            return Attempt(
                ok=False, error="email is not configured: set NOTIFIER_SMTP_HOST", permanent=True
            )
        try:
            await aiosmtplib.send(
                self.message(outbound),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return Attempt(ok=False, error=f"recipient refused: {exc}"[:2000], permanent=True)
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx: the server will say no again; 4xx: try later.
            return Attempt(
                ok=False,
                status_code=exc.code,
                error=f"SMTP {exc.code}: {exc.message}"[:2000],
                permanent=500 <= exc.code < 600,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Attempt(ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
        return Attempt(ok=True, status_code=250)
