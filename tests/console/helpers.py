"""Helpers for driving the console as a browser would: read a page's CSRF token, post its forms."""

from __future__ import annotations

import re

import httpx

from tests.factories import TestOperator

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_in(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def csrf_for(client: httpx.AsyncClient, page: str) -> str:
    """The CSRF token of the form on `page` (a GET that must answer 200)."""
    response = await client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    return csrf_in(response.text)


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str] | None = None
) -> httpx.Response:
    """Open `page`, then post its form to `action` with the page's CSRF token."""
    token = await csrf_for(client, page)
    return await client.post(action, data={"csrf_token": token, **(data or {})})


async def console_sign_in(
    client: httpx.AsyncClient, op: TestOperator, step: int = 0, next_path: str = ""
) -> httpx.Response:
    """Sign in through the console's own form, with a real TOTP code."""
    token = await csrf_for(client, "/admin/login")
    return await client.post(
        "/admin/login",
        data={
            "csrf_token": token,
            "email": op.email,
            "password": op.password,
            "totp_code": op.code(step),
            "next": next_path,
        },
    )
