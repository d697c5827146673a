"""The console in English and Russian: every string has its Russian translation (extracted from
the sources with Babel at test time), the request's language (the operator's saved choice, else
Accept-Language), and the switch in the header (CSRF, saved, audited)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from babel.messages.pofile import read_po
from fastapi import FastAPI
from sqlalchemy import select

from paywarden.console import i18n
from paywarden.kit.db import Database
from paywarden.models import AuditEntry, Operator
from tests.conftest import client_for
from tests.console.helpers import console_sign_in, csrf_for
from tests.factories import create_operator

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|%[sdif]")


def _catalog(lang: str):
    with i18n.po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=i18n.DOMAIN)


def _placeholders(text: str) -> list[str]:
    return sorted(m.group(0) for m in PLACEHOLDER.finditer(text))


def test_every_console_string_has_a_russian_translation() -> None:
    catalog = _catalog("ru")
    missing = []
    for message in i18n.extract():
        if not message.id:
            continue
        have = catalog.get(message.id, context=message.context)
        strings = have.string if have is not None else None
        if (
            have is None
            or have.fuzzy
            or not strings
            or not all(strings if isinstance(strings, tuple) else [strings])
        ):
            where = ", ".join(f"{f}:{n}" for f, n in message.locations)
            ident = message.id if isinstance(message.id, str) else message.id[0]
            missing.append(f"{ident!r} ({where})")
    assert not missing, (
        f"{len(missing)} console strings without a Russian translation "
        "(run `make i18n`, then translate them in "
        "paywarden/console/locale/ru/LC_MESSAGES/messages.po):\n" + "\n".join(missing)
    )


def test_russian_catalog_has_no_fuzzy_entries_and_keeps_placeholders() -> None:
    wrong = []
    for message in _catalog("ru"):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        if message.fuzzy:
            wrong.append(f"fuzzy: {ids[0]!r}")
        want = _placeholders(ids[-1])
        for text in strings:
            if (
                text
                and _placeholders(text) != want
                and _placeholders(text) != _placeholders(ids[0])
            ):
                wrong.append(f"placeholders differ: {ids[0]!r} -> {text!r}")
    assert not wrong, "\n".join(wrong)


def test_accept_language_best_match() -> None:
    assert i18n.best_accept("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7") == "ru"
    assert i18n.best_accept("en-GB,en;q=0.9,ru;q=0.8") == "en"
    assert i18n.best_accept("de-DE,de;q=0.9,ru;q=0.5") == "ru"
    assert i18n.best_accept("fr, ru;q=0") is None
    assert i18n.pick_language(None, "xx", accept="fr") == "en"
    assert i18n.pick_language("ru", accept="en") == "ru"


def test_numbers_and_dates_follow_the_language() -> None:
    from paywarden.console.web import usdt, when

    assert usdt("3820.500000") == "3,820.500000 USDT"
    assert "2026-01-02 03:04:05 UTC" in when("2026-01-02T03:04:05+00:00")
    with i18n.language("ru"):
        assert usdt("3820.500000").replace("\xa0", " ") == "3 820,500000 USDT"
        assert "2 янв. 2026" in when("2026-01-02T03:04:05+00:00")


async def test_languages_do_not_leak_between_concurrent_requests() -> None:
    async def speak(lang: str) -> str:
        with i18n.language(lang):
            await asyncio.sleep(0.01)
            return i18n.gettext("Sign in")

    en, ru = await asyncio.gather(speak("en"), speak("ru"))
    assert (en, ru) == ("Sign in", "Вход")
    assert i18n.current_language() == "en"


async def test_sign_in_page_follows_accept_language(client: httpx.AsyncClient) -> None:
    en = await client.get("/admin/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in en.text
    assert ">Sign in</h1>" in en.text
    ru = await client.get("/admin/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in ru.text
    assert ">Вход</h1>" in ru.text
    assert "Пароль" in ru.text


async def test_operator_choice_wins_over_accept_language(app: FastAPI, db: Database) -> None:
    op = await create_operator(db)
    async with client_for(app) as client:
        await console_sign_in(client, op)
        page = await client.get("/admin/sessions", headers={"Accept-Language": "ru"})
        assert '<html lang="ru">' in page.text
        assert "Сеансы" in page.text

        # The switch wants its CSRF token.
        refused = await client.post("/admin/language", data={"lang": "ru"})
        assert refused.status_code == 403
        refused = await client.post("/admin/language", data={"lang": "ru", "csrf_token": "x"})
        assert refused.status_code == 403

        token = await csrf_for(client, "/admin/sessions")
        bad = await client.post("/admin/language", data={"lang": "de", "csrf_token": token})
        assert bad.status_code == 400

        switched = await client.post(
            "/admin/language",
            data={"lang": "en", "csrf_token": token, "next": "/admin/sessions"},
        )
        assert switched.status_code == 303
        assert switched.headers["location"] == "/admin/sessions"
        # Saved on the operator: English even though the browser asks for Russian.
        page = await client.get("/admin/sessions", headers={"Accept-Language": "ru"})
        assert '<html lang="en">' in page.text
        assert "<h1>Sessions</h1>" in page.text

        switched = await client.post(
            "/admin/language", data={"lang": "ru", "csrf_token": token, "next": "//evil"}
        )
        assert switched.headers["location"] == "/admin"
        client.cookies.delete(i18n.LANGUAGE_COOKIE)
        page = await client.get("/admin/sessions", headers={"Accept-Language": "en"})
        assert '<html lang="ru">' in page.text
        assert "<h1>Сеансы</h1>" in page.text
        assert 'id="lang-ru" aria-pressed="true"' in page.text
    async with db.transaction() as s:
        saved = await s.scalar(select(Operator.language).where(Operator.email == op.email))
        assert saved == "ru"
        rows = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "operator.language"))
        )
        assert [r.details for r in rows] == [{"from": None, "to": "en"}, {"from": "en", "to": "ru"}]


async def test_error_pages_speak_the_language(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/admin/login", data={"csrf_token": "x"}, headers={"Accept-Language": "ru"}
    )
    assert response.status_code == 403
    assert "Перезагрузите страницу" in response.text


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_catalogs_compile(lang: str) -> None:
    i18n.compile_catalogs()
    assert i18n.mo_path(lang).exists()
    assert i18n.mo_path(lang).stat().st_mtime >= i18n.po_path(lang).stat().st_mtime


def test_chart_day_labels_follow_the_language() -> None:
    from datetime import date

    from paywarden.console import i18n

    day = date(2026, 11, 29)
    assert i18n.format_day(day) == "Sun 29 Nov"
    token = i18n.activate("ru")
    try:
        assert i18n.format_day(day) == "вс 29 нояб."
    finally:
        i18n.deactivate(token)
