"""The bot's commands: what a client's message or button press changes, and the replies.

`handle` runs in the update's transaction and returns the replies; the runner sends them after
the commit (no Telegram call holds a transaction open). Everything goes through services, as
the client API does: the same `tg_<id>` client, the same top-ups, the same ban rule. Replies
are in the client's language: its choice in the app, else Telegram's, else English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.cards import service as cards
from paywarden.clients import service as clients
from paywarden.console import i18n
from paywarden.console.i18n import _
from paywarden.kit.errors import AppError
from paywarden.kit.money import USDT_DECIMALS, parse_amount
from paywarden.kit.qr import qr_png
from paywarden.kit.time import as_utc, utcnow
from paywarden.models import Client
from paywarden.models.cards import CARD_CLOSED
from paywarden.models.clients import BANNED
from paywarden.models.ledger import DECIMALS
from paywarden.notifications import service as notifications
from paywarden.support import service as support
from paywarden.telegram.client import Button, Incoming
from paywarden.topups import service as topups
from paywarden.wallets import service as wallets

if TYPE_CHECKING:  # annotations only: the process builds it (paywarden/context.py)
    from paywarden.context import GatewayContext

LANGUAGE_PREFIX = "lang:"  # a /language button's callback data: "lang:ru"
# As the client app names them ("Active" has a card's gender in Russian: its own context).
CARD_STATES = {"frozen": i18n.N_("Frozen"), "closed": i18n.N_("Closed")}


@dataclass(frozen=True)
class Reply:
    """A message to send back: text, or a photo (PNG) with the text as its caption."""

    text: str
    buttons: list[Button] = field(default_factory=list)
    photo: bytes | None = None


@dataclass(frozen=True)
class BotContext:
    """What the commands need of the process: the gateway (top-ups) and the public URL."""

    gateway: GatewayContext
    public_base_url: str

    @property
    def app_url(self) -> str:
        return f"{self.public_base_url}/app/"


def language_of(client: Client) -> str:
    """The client's choice in the app, else its Telegram language (`ru-RU` → ru), else English."""
    telegram = client.language.split("-", 1)[0].lower() if client.language else None
    return i18n.pick_language(client.app_language, telegram)


def command_of(text: str | None) -> tuple[str, str]:
    """`/topup@paywarden_bot 50` → ("/topup", "50"); plain text → ("", text)."""
    text = (text or "").strip()
    if not text.startswith("/"):
        return "", text
    head, _sep, rest = text.partition(" ")
    return head.split("@", 1)[0].lower(), rest.strip()


async def handle(db: AsyncSession, ctx: BotContext, update: Incoming) -> list[Reply]:
    """The replies to one update (none for what the bot does not answer: a group's message)."""
    if update.user_id is None or update.chat_id is None:
        return []
    name = " ".join(p for p in (update.first_name, update.last_name) if p) or None
    client = await clients.upsert_client(
        db,
        f"tg_{update.user_id}",
        display_name=name,
        username=update.username,
        language=update.language_code,
    )
    if client.bot_blocked_at is not None:  # writing to the bot again unblocks it
        await notifications.unblock(db, client.id)
    command, argument = command_of(update.text)
    if update.callback_id is not None and (update.text or "").startswith(LANGUAGE_PREFIX):
        return await _chosen_language(db, client, update.text or "")
    with i18n.language(language_of(client)):
        if client.status == BANNED and command != "/support":
            return [Reply(await _suspended(db))]
        match command:
            case "/start":
                return [await _start(db, ctx, client)]
            case "/balance":
                return [await _balance(db, client)]
            case "/cards":
                return [await _cards(db, client)]
            case "/topup":
                return [await _topup(db, ctx, client, argument)]
            case "/support":
                return [Reply(await _support(db))]
            case "/language":
                return [_language_choice()]
        return [Reply(_help())]


def _help() -> str:
    return "\n".join(
        [
            _("Commands:"),
            _("/balance: your balances"),
            _("/cards: your cards and this month's spending"),
            _("/topup 50: top up 50 USDT"),
            _("/support: contact support"),
            _("/language: change the language"),
            _("/start: open the app"),
        ]
    )


def _money(units: int, currency: str) -> str:
    decimals = DECIMALS[currency]
    return f"{i18n.format_amount(Decimal(units).scaleb(-decimals), decimals)} {currency}"


async def _balance_lines(db: AsyncSession, client: Client) -> list[str]:
    lines = []
    for wallet in (await wallets.balances(db, client.id)).values():
        line = f"• {_money(wallet.balance, wallet.currency)}"
        if wallet.reserved:
            line += " " + _("(%(held)s on hold)", held=_money(wallet.reserved, wallet.currency))
        lines.append(line)
    return lines


async def _start(db: AsyncSession, ctx: BotContext, client: Client) -> Reply:
    greeting = (
        _("Hello, %(name)s!", name=client.display_name) if client.display_name else _("Hello!")
    )
    lines = [greeting, _("Your balances:"), *await _balance_lines(db, client)]
    lines += ["", _("Open the app to top up, manage your cards and see your payments.")]
    return Reply("\n".join(lines), [Button(_("Open the app"), ctx.app_url, web_app=True)])


async def _balance(db: AsyncSession, client: Client) -> Reply:
    lines = [_("Your balances:"), *await _balance_lines(db, client)]
    threshold = client.low_balance_threshold
    if threshold is None:
        lines.append(_("Low-balance alert: off."))
    else:
        amount = i18n.format_amount(Decimal(threshold).scaleb(-2), 2)
        lines.append(_("Low-balance alert: below %(amount)s.", amount=amount))
    lines.append(_("You set the alert in the app, under Profile."))
    return Reply("\n".join(lines))


async def _cards(db: AsyncSession, client: Client) -> Reply:
    now = utcnow()
    shown = [c for c in await cards.list_for(db, client.id) if c.status != CARD_CLOSED]
    if not shown:
        return Reply(_("You have no cards yet. Open the app to get one: /start"))
    lines = [_("Your cards:")]
    for card in shown:
        spent = cards.spent_this_month(card, now)
        state = (
            i18n.pgettext("card", "Active")
            if card.status not in CARD_STATES
            else i18n.gettext(CARD_STATES[card.status])
        )
        month = _(
            "%(spent)s of %(limit)s this month",
            spent=_money(spent, card.currency),
            limit=_money(card.monthly_limit, card.currency),
        )
        label = f" {card.label}" if card.label else ""
        lines.append(f"•••• {card.last4 or '????'}{label}: {state}, {month}")
    return Reply("\n".join(lines))


def _usage() -> Reply:
    return Reply(_("Send the amount in USDT after the command, like: /topup 50"))


async def _topup(db: AsyncSession, ctx: BotContext, client: Client, argument: str) -> Reply:
    try:
        # A phone's decimal input as the amounts' grammar reads it: `12,50` too.
        amount = parse_amount(argument.replace(",", "."), USDT_DECIMALS)
    except ValueError:
        return _usage()
    try:
        made = await topups.create(db, ctx.gateway, client, amount, base_url=ctx.public_base_url)
    except AppError as exc:
        if exc.code == "VALIDATION_ERROR":
            most = i18n.format_amount(Decimal(topups.config().max_usdt).scaleb(-6), 0)
            return Reply(_("A top-up is from 1 USDT up to %(most)s USDT.", most=most))
        return Reply(_("The top-up could not be made. Please try again later."))
    usdt = i18n.format_amount(Decimal(made.amount).scaleb(-USDT_DECIMALS), USDT_DECIMALS)
    expires_at = as_utc(made.expires_at) or utcnow()
    minutes = max(1, int((expires_at - utcnow()).total_seconds() // 60))
    text = "\n".join(
        [
            _("Send exactly %(amount)s USDT (TRON, TRC-20) to:", amount=usdt),
            made.address,
            _("Pay within %(minutes)s minutes.", minutes=minutes),
            _("Your USD wallet is credited once the payment is confirmed; we will tell you."),
            made.checkout_url,
        ]
    )
    return Reply(
        text, [Button(_("Open the payment page"), made.checkout_url)], qr_png(made.address)
    )


async def _support(db: AsyncSession) -> str:
    settings = await support.current(db)
    if not settings.contact:
        return _("Support is not set up yet. Please try again later.")
    lines = [_("Support: %(contact)s", contact=settings.contact)]
    if settings.working_hours:
        lines.append(_("Hours: %(hours)s", hours=settings.working_hours))
    if settings.average_reply_time:
        lines.append(_("Usual reply time: %(time)s", time=settings.average_reply_time))
    return "\n".join(lines)


async def _suspended(db: AsyncSession) -> str:
    contact = (await support.current(db)).contact
    if contact:
        return _("Your account is suspended. Contact support: %(contact)s", contact=contact)
    return _("Your account is suspended. Contact support: /support")


def _language_choice() -> Reply:
    buttons = [
        Button(name, f"{LANGUAGE_PREFIX}{code}") for code, name in i18n.LANGUAGE_NAMES.items()
    ]
    return Reply(_("Choose your language:"), buttons)


async def _chosen_language(db: AsyncSession, client: Client, data: str) -> list[Reply]:
    chosen = data.removeprefix(LANGUAGE_PREFIX)
    if chosen in i18n.LANGUAGES:
        await clients.set_app_language(db, client, chosen)
    with i18n.language(language_of(client)):
        return [Reply(_("Language: English.") + "\n\n" + _help())]
