"""Sending the verification link: over SMTP when SMTP_URL is set, else into the log (development).

SMTP_URL is `smtp://user:pass@host:port` (STARTTLS when the server offers it) or
`smtps://user:pass@host:port` (implicit TLS). The password never reaches a log line.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from paywarden.kit.logging import get_logger

log = get_logger(__name__)

SMTP_TIMEOUT = 15.0


class MailUnavailable(Exception):
    """No way to send mail, or the SMTP server refused it."""


@dataclass(frozen=True)
class SmtpTarget:
    secure: bool
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://…")
    secure = parts.scheme == "smtps"
    return SmtpTarget(
        secure=secure,
        host=parts.hostname,
        port=parts.port or (465 if secure else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(frozen=True)
class Mailer:
    smtp_url: str | None
    sender: str
    is_production: bool

    @property
    def available(self) -> bool:
        return bool(self.smtp_url) or not self.is_production

    async def send_verification(self, to: str, link: str) -> None:
        if not self.smtp_url:
            if self.is_production:
                raise MailUnavailable()
            log.info("web_verify_link", email=to, link=link, hint="SMTP_URL unset: not mailed")
            return
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = "Confirm your email"
        msg.set_content(
            "Open this link to confirm your email and activate your account:\n\n"
            f"{link}\n\nIf you did not sign up, ignore this message.\n"
        )
        target = parse_smtp_url(self.smtp_url)
        try:
            await asyncio.to_thread(_send, target, msg)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning(
                "smtp_send_failed", host=target.host, port=target.port, error=type(exc).__name__
            )
            raise MailUnavailable() from exc
        log.info("web_verify_mailed", email=to, host=target.host, port=target.port)


def _send(target: SmtpTarget, msg: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.secure:
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT, context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
    with smtp:
        smtp.ehlo()
        if not target.secure and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if target.username:
            if not target.secure and not smtp.has_extn("starttls") and not _loopback(target.host):
                raise smtplib.SMTPException("refusing to send SMTP credentials unencrypted")
            smtp.login(target.username, target.password or "")
        smtp.send_message(msg)


def _loopback(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")
