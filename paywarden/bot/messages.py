"""What each notification says, in the client's language: short, plain text (no markup, so
nothing a merchant's name holds can break a message).

`render(kind, params, lang, code=...)` takes a notification's params as the reactions wrote
them (amounts in minor units, times in ISO 8601) and returns the message. A decline's reason
comes in plain words from the issuer's `DeclineReason` (our own refusals use the same words);
a 3-D Secure code's message puts the code on a line of its own, says what it is for and until
when, and warns never to share it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date

from paywarden.console.i18n import _, current_language, format_amount, language, pick_language
from paywarden.kit.money import CENT_DECIMALS, USDT_DECIMALS, format_units
from paywarden.models.notifications import (
    CARD_APPROVED,
    CARD_DECLINED,
    CARD_REFUND,
    CODE_3DS,
    LOW_BALANCE,
    SUBSCRIPTION_PAST_DUE,
    SUBSCRIPTION_RENEWED,
    TOPUP_CREDITED,
)

DECIMALS = {"USDT": USDT_DECIMALS}  # every other currency in cents (EUR, USD, a merchant's)


def client_language(app_language: str | None, telegram_language: str | None) -> str:
    """The client's language: its choice in the app, else Telegram's (`ru-RU` is `ru`), else
    English."""
    telegram = telegram_language.split("-", 1)[0].lower() if telegram_language else None
    return pick_language(app_language, telegram)


def money(units: int, currency: str) -> str:
    """`125050, "EUR"` -> `1,250.50 EUR` (ru: `1 250,50 EUR`)."""
    decimals = DECIMALS.get(currency, CENT_DECIMALS)
    return f"{format_amount(Decimal(format_units(int(units), decimals)), decimals)} {currency}"


def _time(iso: str) -> str:
    """`HH:MM` of an ISO 8601 moment, in UTC."""
    return _moment(iso).strftime("%H:%M")


def _day(iso: str) -> str:
    """The date of an ISO 8601 moment (UTC), as the language writes it: 8 Apr 2026."""
    return format_date(_moment(iso).date(), "d MMM y", locale=current_language())


def _moment(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def decline_reason(reason: str | None, currency: str) -> str:
    """A decline's reason in plain words (unknown ones read as `other`)."""
    match reason:
        case "insufficient_funds":
            return _("not enough money in your %(currency)s wallet", currency=currency)
        case "card_inactive":
            return _("the card is frozen or closed")
        case "spending_limit":
            return _("the card's monthly spending limit would be exceeded")
        case "3ds_failed":
            return _("the 3-D Secure check failed (a wrong or expired code)")
        case "suspected_fraud":
            return _("the payment looked suspicious to the bank; contact support if it was you")
        case "do_not_honor":
            return _("the payment was refused; contact support")
    return _("the payment could not be processed")


def _purchase(p: dict[str, Any]) -> str:
    """`12.50 EUR at Coffee Shop, card •••• 4242`, leaving out what is not known."""
    amount = money(p["amount"], p["currency"])
    merchant, last4 = p.get("merchant"), p.get("card_last4")
    if merchant and last4:
        return _(
            "%(amount)s at %(merchant)s, card •••• %(last4)s",
            amount=amount,
            merchant=merchant,
            last4=last4,
        )
    if merchant:
        return _("%(amount)s at %(merchant)s", amount=amount, merchant=merchant)
    if last4:
        return _("%(amount)s, card •••• %(last4)s", amount=amount, last4=last4)
    return amount


def _code_3ds(p: dict[str, Any], code: str | None) -> str:
    return "\n".join(
        [
            "🔐 " + _("Your 3-D Secure code:"),
            "",
            code or "",
            "",
            _purchase(p),
            _("Valid until %(time)s UTC.", time=_time(p["expires_at"])),
            _("Never share this code with anyone, not even with us."),
        ]
    )


def _approved(p: dict[str, Any], _code: str | None) -> str:
    return "✅ " + _("Payment approved: %(purchase)s", purchase=_purchase(p))


def _declined(p: dict[str, Any], _code: str | None) -> str:
    reason = decline_reason(p.get("reason"), p["currency"])
    return "\n".join(
        [
            "❌ " + _("Payment declined: %(purchase)s", purchase=_purchase(p)),
            _("Reason: %(reason)s.", reason=reason),
        ]
    )


def _refund(p: dict[str, Any], _code: str | None) -> str:
    return "\n".join(
        [
            "↩️ " + _("Refund: %(purchase)s", purchase=_purchase(p)),
            _("The money is back in your %(currency)s wallet.", currency=p["currency"]),
        ]
    )


def _topup(p: dict[str, Any], _code: str | None) -> str:
    amount, currency = money(p["amount"], p["currency"]), p["currency"]
    text = "💰 " + _("Top-up credited: %(amount)s", amount=amount)
    if currency != "USDT" and p.get("usdt") is not None:
        text += " " + _("(%(usdt)s received)", usdt=money(p["usdt"], "USDT"))
    return text


def _renewed(p: dict[str, Any], _code: str | None) -> str:
    amount = money(p["amount"], p["currency"])
    renewed = _(
        "Your %(plan)s plan was renewed: %(amount)s charged.", plan=p["plan"], amount=amount
    )
    lines = ["🔄 " + renewed]
    if p.get("next_at"):
        lines.append(_("Next renewal: %(day)s.", day=_day(p["next_at"])))
    return "\n".join(lines)


def _past_due(p: dict[str, Any], _code: str | None) -> str:
    amount = money(p["amount"], p["currency"])
    due = _(
        "Your %(plan)s plan could not be renewed: %(amount)s is due.", plan=p["plan"], amount=amount
    )
    top_up = _("Top up your %(currency)s wallet to renew it.", currency=p["currency"])
    return "\n".join(["⚠️ " + due, top_up])


def _low_balance(p: dict[str, Any], _code: str | None) -> str:
    currency = p["currency"]
    balance, threshold = money(p["balance"], currency), money(p["threshold"], currency)
    low = _(
        "Low balance: %(balance)s left in your %(currency)s wallet.",
        balance=balance,
        currency=currency,
    )
    return "⚠️ " + low + "\n" + _("You asked to be told below %(threshold)s.", threshold=threshold)


RENDERERS: dict[str, Callable[[dict[str, Any], str | None], str]] = {
    CODE_3DS: _code_3ds,
    CARD_APPROVED: _approved,
    CARD_DECLINED: _declined,
    CARD_REFUND: _refund,
    TOPUP_CREDITED: _topup,
    SUBSCRIPTION_RENEWED: _renewed,
    SUBSCRIPTION_PAST_DUE: _past_due,
    LOW_BALANCE: _low_balance,
}


def render(kind: str, params: dict[str, Any], lang: str, *, code: str | None = None) -> str:
    """The message of a notification of `kind` in `lang` (`code`: a 3-D Secure code's value)."""
    with language(lang):
        return RENDERERS[kind](params, code)
