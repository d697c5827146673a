# ruff: noqa: RUF001 - the Russian answers are Cyrillic
"""Every command, in English and in Russian, through the fake Bot API server: an update fed in,
the bot's answer read back from what the fake received."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from paywarden.audit.context import CLI
from paywarden.cards.service import month_of
from paywarden.clients import service as clients
from paywarden.kit.db import Database
from paywarden.models import Client
from paywarden.models.cards import Card
from paywarden.models.topups import Topup
from paywarden.support import service as support
from paywarden.wallets import service as wallets
from tests.bot.conftest import BASE_URL, Fake
from tests.clients.test_auth import ban

CHAT = 424242
EN_RU = pytest.mark.parametrize("lang", ["en", "ru"])
TEXTS = {
    "en": {
        "hello": "Hello, Client!",
        "balances": "Your balances:",
        "open": "Open the app",
        "alert": "Low-balance alert: below 20.00.",
        "profile": "under Profile",
        "cards": "•••• 4242: Active, 120.00 EUR of 500.00 EUR this month",
        "frozen": "•••• 1111 Travel: Frozen",
        "send": "Send exactly 25.000000 USDT (TRON, TRC-20) to:",
        "pay_page": "Open the payment page",
        "usage": "Send the amount in USDT after the command, like: /topup 50",
        "range": "A top-up is from 1 USDT up to 100,000 USDT.",
        "support": "Support: @pw_help",
        "hours": "Hours: 9-18 UTC",
        "suspended": "Your account is suspended. Contact support: @pw_help",
        "choose": "Choose your language:",
        "help": "/topup 50: top up 50 USDT",
        "no_cards": "You have no cards yet.",
    },
    "ru": {
        "hello": "Здравствуйте, Client!",
        "balances": "Ваши балансы:",
        "open": "Открыть приложение",
        "alert": "Уведомление о низком балансе: ниже 20,00.",
        "profile": "«Профиль»",
        "cards": "•••• 4242: Активна, 120,00 EUR из 500,00 EUR в этом месяце",
        "frozen": "•••• 1111 Travel: Заморожена",
        "send": "Отправьте ровно 25,000000 USDT (TRON, TRC-20) на адрес:",
        "pay_page": "Открыть страницу оплаты",
        "usage": "Укажите сумму в USDT после команды, например: /topup 50",
        "range": "Пополнение — от 1 до 100\xa0000 USDT.",
        "support": "Поддержка: @pw_help",
        "hours": "Часы работы: 9-18 UTC",
        "suspended": "Ваш аккаунт заблокирован. Обратитесь в поддержку: @pw_help",
        "choose": "Выберите язык:",
        "help": "/topup 50 — пополнить на 50 USDT",
        "no_cards": "У вас пока нет карт.",
    },
}


async def client_of(db: Database, chat: int = CHAT) -> Client:
    async with db.transaction() as session:
        return await clients.by_external_id(session, f"tg_{chat}")


async def credit(db: Database, client_id: uuid.UUID, currency: str, amount: int) -> None:
    async with db.transaction() as session:
        await wallets.adjust(
            session, client_id, currency, amount, idempotency_key=str(uuid.uuid4()), actor=CLI
        )


async def set_support(db: Database) -> None:
    async with db.transaction() as session:
        await support.update(session, {"contact": "@pw_help", "working_hours": "9-18 UTC"}, CLI)


@EN_RU
async def test_start_creates_the_client_and_opens_the_app(
    bot: Fake, bot_db: Database, lang: str
) -> None:
    text = TEXTS[lang]
    answer = await bot.reply(CHAT, "/start", lang)
    client = await client_of(bot_db)
    assert (client.display_name, client.language) == ("Client", lang)
    assert text["hello"] in answer["text"]
    assert text["balances"] in answer["text"]
    assert "• 0.00 EUR" in answer["text"].replace(",", ".")
    [[button]] = answer["reply_markup"]["inline_keyboard"]
    assert button == {"text": text["open"], "web_app": {"url": f"{BASE_URL}/app/"}}


async def test_start_refreshes_the_client_and_clears_a_blocked_bot(
    bot: Fake, bot_db: Database
) -> None:
    await bot.reply(CHAT, "/start", "en")
    async with bot_db.transaction() as session:
        await session.execute(
            update(Client).values(bot_blocked_at=datetime.now(UTC), display_name="Old")
        )
    await bot.reply(CHAT, "/start")
    client = await client_of(bot_db)
    assert client.bot_blocked_at is None
    assert client.display_name == "Client"


@EN_RU
async def test_balance_shows_the_wallets_and_the_alert(
    bot: Fake, bot_db: Database, lang: str
) -> None:
    text = TEXTS[lang]
    await bot.reply(CHAT, "/start", lang)
    client = await client_of(bot_db)
    await credit(bot_db, client.id, "EUR", 1250)
    await credit(bot_db, client.id, "USD", 300)
    async with bot_db.transaction() as session:
        await session.execute(
            update(Client).where(Client.id == client.id).values(low_balance_threshold=2000)
        )
    answer = (await bot.reply(CHAT, "/balance"))["text"]
    assert text["balances"] in answer
    assert "12.50 EUR" in answer.replace(",", ".")
    assert "3.00 USD" in answer.replace(",", ".")
    assert text["alert"] in answer
    assert text["profile"] in answer


@EN_RU
async def test_cards_show_state_and_month_spend(bot: Fake, bot_db: Database, lang: str) -> None:
    text = TEXTS[lang]
    assert text["no_cards"] in (await bot.reply(CHAT, "/cards", lang))["text"]
    client = await client_of(bot_db)
    now = datetime.now(UTC)
    async with bot_db.transaction() as session:
        for last4, status, label in (("4242", "active", None), ("1111", "frozen", "Travel")):
            session.add(
                Card(
                    client_id=client.id,
                    issuer="sandbox",
                    issuer_card_id=f"card-{last4}",
                    currency="EUR",
                    monthly_limit=50_000,
                    spend_month=month_of(now),
                    spent_this_month=12_000,
                    status=status,
                    last4=last4,
                    label=label,
                )
            )
        session.add(
            Card(
                client_id=client.id,
                issuer="sandbox",
                issuer_card_id="card-closed",
                currency="USD",
                monthly_limit=100,
                status="closed",
                last4="9999",
            )
        )
    answer = (await bot.reply(CHAT, "/cards"))["text"]
    assert text["cards"] in answer
    assert text["frozen"] in answer
    assert "9999" not in answer  # a closed card is not shown


@EN_RU
async def test_topup_makes_a_topup_and_sends_address_qr_and_link(
    bot: Fake, bot_db: Database, lang: str
) -> None:
    text = TEXTS[lang]
    answer = await bot.reply(CHAT, "/topup 25", lang)
    client = await client_of(bot_db)
    async with bot_db.transaction() as session:
        [topup] = (await session.scalars(select(Topup).where(Topup.client_id == client.id))).all()
    assert topup.amount_usdt == 25_000_000
    assert answer["method"] == "sendPhoto"
    assert answer["photo"]["size"] > 200  # the QR code's PNG
    caption = answer["text"]
    assert text["send"] in caption
    checkout = f"{BASE_URL}/pay/{topup.order_id}"
    assert checkout in caption
    [[button]] = answer["reply_markup"]["inline_keyboard"]
    assert button == {"text": text["pay_page"], "url": checkout}
    address = caption.splitlines()[1]
    assert address.startswith("T")
    assert len(address) == 34


@EN_RU
async def test_topup_with_a_bad_amount_says_how(bot: Fake, bot_db: Database, lang: str) -> None:
    text = TEXTS[lang]
    for wrong in ("/topup", "/topup ten", "/topup -5"):
        assert (await bot.reply(CHAT, wrong, lang))["text"] == text["usage"]
    assert (await bot.reply(CHAT, "/topup 0.5"))["text"] == text["range"]
    assert (await bot.reply(CHAT, "/topup 1000000"))["text"] == text["range"]
    async with bot_db.transaction() as session:
        assert not (await session.scalars(select(Topup))).all()


async def test_topup_reads_a_comma(bot: Fake, bot_db: Database) -> None:
    answer = await bot.reply(CHAT, "/topup@paywarden_test_bot 12,5", "en")
    assert "12.500000 USDT" in answer["text"]


@EN_RU
async def test_support_shows_the_contacts(bot: Fake, bot_db: Database, lang: str) -> None:
    await set_support(bot_db)
    answer = (await bot.reply(CHAT, "/support", lang))["text"]
    assert TEXTS[lang]["support"] in answer
    assert TEXTS[lang]["hours"] in answer


async def test_support_not_set_up(bot: Fake) -> None:
    answer = (await bot.reply(CHAT, "/support", "en"))["text"]
    assert answer == "Support is not set up yet. Please try again later."


@EN_RU
async def test_language_button_sets_the_app_language(
    bot: Fake, bot_db: Database, lang: str
) -> None:
    other = "ru" if lang == "en" else "en"
    choice = await bot.reply(CHAT, "/language", other)  # asked in the other language
    assert choice["text"] == TEXTS[other]["choose"]
    buttons = [row[0] for row in choice["reply_markup"]["inline_keyboard"]]
    assert buttons == [
        {"text": "English", "callback_data": "lang:en"},
        {"text": "Русский", "callback_data": "lang:ru"},
    ]
    before = len(await bot.sent(CHAT))
    await bot.press(CHAT, f"lang:{lang}")
    answer = (await bot.wait_sent(CHAT, before + 1))[before]["text"]
    assert answer.startswith("Language: English." if lang == "en" else "Язык: русский.")
    assert TEXTS[lang]["help"] in answer
    assert (await client_of(bot_db)).app_language == lang
    assert [c for c in await bot.calls("answerCallbackQuery") if c["status"] == 200]
    # The app's choice wins over Telegram's language from now on.
    answer = (await bot.reply(CHAT, "/balance", other))["text"]
    assert TEXTS[lang]["balances"] in answer


@EN_RU
async def test_unknown_commands_and_text_get_the_help(bot: Fake, lang: str) -> None:
    for said in ("/nope", "hello there"):
        answer = (await bot.reply(CHAT, said, lang))["text"]
        assert TEXTS[lang]["help"] in answer
        assert "/balance" in answer
        assert "/language" in answer


@EN_RU
async def test_a_banned_client_is_told_to_contact_support(
    bot: Fake, bot_db: Database, lang: str
) -> None:
    await set_support(bot_db)
    await bot.reply(CHAT, "/start", lang)
    await ban(bot_db, (await client_of(bot_db)).id)
    for said in ("/start", "/balance", "/topup 25", "/cards", "hi"):
        assert (await bot.reply(CHAT, said))["text"] == TEXTS[lang]["suspended"]
    assert TEXTS[lang]["support"] in (await bot.reply(CHAT, "/support"))["text"]
    async with bot_db.transaction() as session:
        assert not (await session.scalars(select(Topup))).all()


async def test_a_group_message_is_not_answered(bot: Fake) -> None:
    await bot.http.post(
        "/_fake/updates", json={"chat_id": -100, "text": "/start", "chat_type": "group"}
    )
    answer = await bot.reply(CHAT, "/start", "en")  # handled after the group's update
    assert "Hello" in answer["text"]
    assert not await bot.sent(-100)
