"""The console's small helpers: money and time rendering, where sign-in may send one back."""

from __future__ import annotations

import pytest

from paywarden.console.web import login_url, safe_next, usdt, when


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("3820.500000", "3,820.500000 USDT"),
        ("0.000000", "0.000000 USDT"),
        ("1234567.5", "1,234,567.5 USDT"),
        (None, "—"),
        ("not money", "not money"),
    ],
)
def test_usdt_keeps_the_api_decimals(value: str | None, shown: str) -> None:
    assert usdt(value) == shown


def test_when_is_a_time_element_in_utc_until_the_browser_converts_it() -> None:
    assert str(when("2026-04-08T12:34:56.000Z")) == (
        '<time datetime="2026-04-08T12:34:56.000Z">2026-04-08 12:34:56 UTC</time>'
    )
    assert str(when(None)) == "—"
    assert "&lt;" in str(when("<script>"))


@pytest.mark.parametrize(
    ("given", "target"),
    [
        ("/admin/orders?status=pending", "/admin/orders?status=pending"),
        ("/admin", "/admin"),
        ("//evil.example.com", "/admin"),
        ("/admin//evil.example.com", "/admin//evil.example.com"),  # a path on this site
        ("https://evil.example.com/admin/", "/admin"),
        ("/admin/\\evil", "/admin"),
        ("/api/v1/admin/stats", "/admin"),
        (None, "/admin"),
    ],
)
def test_safe_next_stays_in_the_console(given: str | None, target: str) -> None:
    assert safe_next(given) == target


def test_login_url_carries_only_console_paths() -> None:
    assert (
        login_url("/admin/orders?status=pending")
        == "/admin/login?next=/admin/orders%3Fstatus%3Dpending"
    )
    assert login_url("/elsewhere") == "/admin/login"
    assert login_url("/admin/login") == "/admin/login"
