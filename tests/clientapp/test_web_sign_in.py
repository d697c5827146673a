"""Signing up and in on the web, through the app's own pages: the sign-up form mails a link to
`/app/verify`, which verifies and signs in; the sign-in form; refusals in plain words; the
forms' CSRF token; signing out."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from paywarden.config import Settings
from tests.clientapp.conftest import csrf_in
from tests.clients.test_auth import BOT_TOKEN, TELEGRAM_TOKEN
from tests.web_users.conftest import PASSWORD, link_token, mailbox  # noqa: F401 - fixture
from tests.web_users.smtp_receiver import SmtpReceiver


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    mailbox: SmtpReceiver,  # noqa: F811
) -> Settings:
    return make_settings(
        smtp_url=mailbox.url,
        smtp_from="Cards <cards@example.com>",
        bot_api_token=BOT_TOKEN,
        telegram_bot_token=TELEGRAM_TOKEN,
    )


async def post_page_form(
    client: httpx.AsyncClient, page: str, data: dict[str, str]
) -> httpx.Response:
    shown = await client.get(page)
    assert shown.status_code == 200
    return await client.post(page, data={"csrf_token": csrf_in(shown.text), **data})


async def test_sign_up_then_the_mailed_link_signs_in(
    client: httpx.AsyncClient,
    mailbox: SmtpReceiver,  # noqa: F811
) -> None:
    sent = await post_page_form(
        client, "/app/signup", {"email": "Ann@Example.com", "password": PASSWORD}
    )
    assert sent.status_code == 200
    assert 'id="signup-sent"' in sent.text
    assert "ann@example.com" in sent.text
    body = mailbox.messages[-1].message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert re.search(r"http://127\.0\.0\.1:8000/app/verify\?token=\S+", body.decode())
    assert "client_token" not in client.cookies  # not signed in before the link

    opened = await client.get(
        "/app/verify", params={"token": link_token(mailbox, "ann@example.com")}
    )
    assert opened.status_code == 303
    assert opened.headers["location"] == "/app/main?welcome=1"
    cookie = opened.headers["set-cookie"].lower()
    assert "client_token=" in cookie
    assert "httponly" in cookie
    wallet = await client.get("/app/main")
    assert wallet.status_code == 200
    assert 'id="balances"' in wallet.text


@pytest.mark.parametrize(
    ("token", "words"),
    [("not-a-token", "This link is not valid"), ("", "This link is not valid")],
)
async def test_a_bad_link_says_what_to_do(
    client: httpx.AsyncClient, token: str, words: str
) -> None:
    opened = await client.get("/app/verify", params={"token": token})
    assert opened.status_code == 400
    assert words in opened.text
    assert "client_token" not in client.cookies


async def test_sign_up_refusals_are_said_on_the_form(
    client: httpx.AsyncClient,
    mailbox: SmtpReceiver,  # noqa: F811
) -> None:
    short = await post_page_form(
        client, "/app/signup", {"email": "bo@example.com", "password": "short"}
    )
    assert short.status_code == 400
    assert 'id="e-password"' in short.text
    await post_page_form(client, "/app/signup", {"email": "bo@example.com", "password": PASSWORD})
    again = await post_page_form(
        client, "/app/signup", {"email": "bo@example.com", "password": PASSWORD}
    )
    assert again.status_code == 409
    assert "already has an account" in again.text


async def test_sign_in_form_and_its_refusals(
    client: httpx.AsyncClient,
    mailbox: SmtpReceiver,  # noqa: F811
) -> None:
    await post_page_form(client, "/app/signup", {"email": "cy@example.com", "password": PASSWORD})
    unverified = await post_page_form(
        client, "/app/login", {"email": "cy@example.com", "password": PASSWORD}
    )
    assert unverified.status_code == 403
    assert "Confirm your e-mail first" in unverified.text
    await client.get("/app/verify", params={"token": link_token(mailbox, "cy@example.com")})
    await client.post(
        "/app/logout", data={"csrf_token": csrf_in((await client.get("/app/logout")).text)}
    )
    assert (await client.get("/app/main")).status_code == 303  # signed out

    wrong = await post_page_form(
        client, "/app/login", {"email": "cy@example.com", "password": "x" * 12}
    )
    assert wrong.status_code == 401
    assert "The e-mail or the password is wrong." in wrong.text
    shown = await client.get("/app/login?next=/app/card")
    signed = await client.post(
        "/app/login",
        data={
            "csrf_token": csrf_in(shown.text),
            "email": "cy@example.com",
            "password": PASSWORD,
            "next": "/app/card",
        },
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/app/card"
    assert (await client.get("/app/main")).status_code == 200


@pytest.mark.parametrize("next_path", ["https://evil.example/", "//evil.example", "/admin"])
async def test_sign_in_never_leads_off_the_app(client: httpx.AsyncClient, next_path: str) -> None:
    shown = await client.get("/app/login", params={"next": next_path})
    assert 'name="next" value="/app/main"' in shown.text


async def test_sign_in_forms_refuse_a_missing_csrf_token(client: httpx.AsyncClient) -> None:
    for page in ("/app/login", "/app/signup"):
        await client.get(page)  # the pre-session cookie is set
        refused = await client.post(page, data={"email": "dee@example.com", "password": PASSWORD})
        assert refused.status_code == 403, page
        assert "This form has expired" in refused.text


async def test_failed_init_data_counts_against_the_ip(client: httpx.AsyncClient) -> None:
    """The session exchange has the limit of every init data check: 20 failures per 15 min."""
    for _ in range(20):
        bad = await client.post(
            "/api/botcartd/session", headers={"X-Telegram-Init-Data": "user=1&hash=0"}
        )
        assert bad.status_code == 401
    limited = await client.post(
        "/api/botcartd/session", headers={"X-Telegram-Init-Data": "user=1&hash=0"}
    )
    assert limited.status_code == 429
    assert limited.headers.get("retry-after")
