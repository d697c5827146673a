"""USDT top-ups over the client API, paid on the devnet (real HTTP) and found by the scanner."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from paywarden.config import Settings
from paywarden.tron.keys import is_tron_address
from tests.chain.conftest import Chain, chain  # noqa: F401 - fixture
from tests.clients.test_auth import BOT_TOKEN, STATE, TELEGRAM_TOKEN, error, tg_headers
from tests.clients.test_client_api import create_plan
from tests.tron.conftest import Devnet, devnet, solidify_depth  # noqa: F401 - fixtures


@pytest.fixture
def settings(make_settings: Callable[..., Settings], devnet: Devnet) -> Settings:  # noqa: F811
    return make_settings(
        trongrid_url=devnet.url,
        scan_start_block=0,
        bot_api_token=BOT_TOKEN,
        telegram_bot_token=TELEGRAM_TOKEN,
        public_base_url="https://pay.example.com",
    )


async def test_a_paid_top_up_credits_the_usd_wallet(
    chain: Chain,  # noqa: F811
    client: httpx.AsyncClient,
) -> None:
    await create_plan(chain.db, "Basic", is_default=True, topup_fee_bps=150)
    created = await client.post(
        "/api/botcartd/topups", json={"amount": "25"}, headers=tg_headers(9001)
    )
    assert created.status_code == 201, created.text
    topup = created.json()
    assert set(topup) == {"topup_id", "order_id", "address", "amount", "checkout_url", "expires_at"}
    assert topup["amount"] == "25.000000"
    assert is_tron_address(topup["address"])
    assert topup["checkout_url"] == f"https://pay.example.com/pay/{topup['order_id']}"
    assert topup["expires_at"].endswith("Z")

    await chain.pay(topup["address"], 25_000_000)
    await chain.devnet.mine(4)  # past the solidify depth (3)
    await chain.scan()
    assert (await chain.order_row(topup["order_id"])).status == "confirmed"

    state = (await client.get(STATE, headers=tg_headers(9001))).json()
    # 25 USDT at 1 USD, less 1.5 % (0.375 rounded up to 0.38).
    assert state["wallets"]["USD"] == {"balance": "24.62", "reserved": "0.00", "available": "24.62"}
    [line] = [line for line in state["ledger"] if line["kind"] == "topup"]
    assert (line["amount"], line["currency"]) == ("24.62", "USD")
    assert line["reference"] == {"type": "order", "id": topup["order_id"]}


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (25, "INVALID_BODY"),  # a JSON number: amounts are decimal strings
        ("0", "INVALID_BODY"),
        ("1.0000001", "INVALID_BODY"),
        ("-5", "INVALID_BODY"),
        ("\uff12\uff15", "INVALID_BODY"),  # full-width digits
        ("\u0662\u0665", "INVALID_BODY"),  # Arabic-Indic digits
        ("2.5e1", "INVALID_BODY"),
        ("0.5", "VALIDATION_ERROR"),  # below the 1 USDT minimum
    ],
)
async def test_top_up_amounts(
    chain: Chain,  # noqa: F811
    client: httpx.AsyncClient,
    amount: Any,
    code: str,
) -> None:
    response = await client.post(
        "/api/botcartd/topups", json={"amount": amount}, headers=tg_headers(9002)
    )
    assert error(response) == (400, code)
