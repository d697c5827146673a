# ruff: noqa: RUF001 - the Russian messages are Cyrillic
"""What each notification says, in English and Russian: short, with the money in its decimals."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from paywarden.bot.messages import client_language, decline_reason, money, render
from paywarden.console.i18n import language
from paywarden.issuer.base import DeclineReason
from paywarden.models.notifications import KINDS

PURCHASE = {"card_last4": "4242", "merchant": "Coffee Shop", "amount": 125_050, "currency": "EUR"}
PARAMS: dict[str, dict[str, Any]] = {
    "code_3ds": {
        **PURCHASE,
        "code_id": "5a3c9e53-2f0e-4f53-9d0a-6a1c33c1b0aa",
        "amount": 2_150,
        "currency": "USD",
        "expires_at": "2026-12-06T14:05:59.000Z",
    },
    "card_approved": PURCHASE,
    "card_declined": {**PURCHASE, "reason": "insufficient_funds"},
    "card_refund": PURCHASE,
    "topup_credited": {"amount": 5_000, "currency": "EUR", "usdt": 54_321_000},
    "subscription_renewed": {
        "plan": "Pro",
        "amount": 999,
        "currency": "EUR",
        "next_at": "2027-01-06T00:00:00.000Z",
    },
    "subscription_past_due": {"plan": "Pro", "amount": 999, "currency": "EUR"},
    "low_balance": {"currency": "USD", "balance": 450, "threshold": 1_000},
}
# A phrase of each kind's message in each language.
SAYS = {
    "code_3ds": ("3-D Secure", "3-D Secure"),
    "card_approved": ("Payment approved: 1,250.50 EUR at Coffee Shop, card •••• 4242", "одобрен"),
    "card_declined": ("not enough money in your EUR wallet", "недостаточно денег"),
    "card_refund": ("Refund: 1,250.50 EUR", "Возврат"),
    "topup_credited": ("50.00 EUR (54.321000 USDT received)", "Пополнение зачислено: 50,00 EUR"),
    "subscription_renewed": ("Pro plan was renewed: 9.99 EUR charged", "6 янв. 2027"),
    "subscription_past_due": ("could not be renewed: 9.99 EUR", "Не удалось продлить"),
    "low_balance": ("Low balance: 4.50 USD left", "осталось 4,50 USD"),
}


def test_every_kind_has_a_message() -> None:
    assert set(PARAMS) == set(KINDS) == set(SAYS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_in_english_and_russian(kind: str) -> None:
    english = render(kind, PARAMS[kind], "en", code="739201")
    russian = render(kind, PARAMS[kind], "ru", code="739201")
    en_phrase, ru_phrase = SAYS[kind]
    assert en_phrase in english
    assert ru_phrase in russian
    assert english != russian
    assert len(english) < 300  # short: read on a phone, at a checkout


def test_the_code_stands_out_with_what_it_is_for_and_until_when() -> None:
    text = render("code_3ds", PARAMS["code_3ds"], "en", code="739201")
    lines = text.splitlines()
    assert "739201" in lines  # on a line of its own
    assert "21.50 USD at Coffee Shop, card •••• 4242" in text
    assert "Valid until 14:05 UTC." in text
    assert "Never share this code" in text
    russian = render("code_3ds", PARAMS["code_3ds"], "ru", code="739201")
    assert "739201" in russian.splitlines()
    assert "14:05 UTC" in russian
    assert "Никому не сообщайте" in russian


def test_what_is_not_known_is_left_out() -> None:
    params = {"amount": 1_000, "currency": "EUR", "card_last4": None, "merchant": None}
    assert render("card_approved", params, "en") == "✅ Payment approved: 10.00 EUR"
    params["merchant"] = "Shop"
    assert render("card_approved", params, "en") == "✅ Payment approved: 10.00 EUR at Shop"


def test_every_decline_reason_in_plain_words() -> None:
    reasons = get_args(DeclineReason)
    with language("en"):
        words = {r: decline_reason(r, "EUR") for r in reasons}
        assert decline_reason("something_new", "EUR") == words["other"]
        assert decline_reason(None, "EUR") == words["other"]
    assert len(set(words.values())) == len(reasons)  # each its own words
    assert words["insufficient_funds"] == "not enough money in your EUR wallet"
    assert "frozen" in words["card_inactive"]
    assert "_" not in "".join(words.values())  # never the code itself
    with language("ru"):
        assert all(decline_reason(r, "EUR") != words[r] for r in reasons)


def test_money_in_the_currencys_decimals() -> None:
    with language("en"):
        assert money(125_050, "EUR") == "1,250.50 EUR"
        assert money(5, "USD") == "0.05 USD"
        assert money(12_500_000, "USDT") == "12.500000 USDT"
    with language("ru"):
        assert money(125_050, "EUR") == "1\xa0250,50 EUR"


def test_the_clients_language() -> None:
    assert client_language("ru", "en") == "ru"  # the app's choice first
    assert client_language(None, "ru-RU") == "ru"  # Telegram's
    assert client_language(None, "de") == "en"
    assert client_language(None, None) == "en"
