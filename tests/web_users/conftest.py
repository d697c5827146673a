"""Web sign-up tests run against an app whose SMTP_URL points at a local SMTP receiver."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from paywarden.config import Settings
from tests.web_users.smtp_receiver import SmtpReceiver

PASSWORD = "correct horse battery"


@pytest.fixture
async def mailbox() -> AsyncIterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def settings(make_settings: Callable[..., Settings], mailbox: SmtpReceiver) -> Settings:
    return make_settings(smtp_url=mailbox.url, smtp_from="Cards <cards@example.com>")


def link_token(mailbox: SmtpReceiver, to: str) -> str:
    """The verification token from the last mail sent to `to`."""
    mails = [m for m in mailbox.messages if m.message["To"] == to]
    assert mails, f"no mail to {to}"
    body = mails[-1].message.get_payload(decode=True)
    assert isinstance(body, bytes)
    link = re.search(r"https?://\S+", body.decode())
    assert link is not None
    return parse_qs(urlsplit(link.group(0)).query)["token"][0]


async def signup(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    response = await client.post(
        "/api/botcartd/web/signup", json={"email": email, "password": password}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def signup_verified(
    client: httpx.AsyncClient, mailbox: SmtpReceiver, email: str, password: str = PASSWORD
) -> None:
    await signup(client, email, password)
    response = await client.get(
        "/api/botcartd/web/verify", params={"token": link_token(mailbox, email)}
    )
    assert response.status_code == 200, response.text
