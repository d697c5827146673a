"""A top-up end to end: made for a client, paid on a devnet served over real HTTP, confirmed by
the gateway's own chain scanner, and credited to the client's USD wallet exactly once."""

from __future__ import annotations

from sqlalchemy import select

from paywarden.models import WebhookDelivery, WebhookEvent
from tests.chain.conftest import Chain, chain, settings  # noqa: F401 - fixtures
from tests.subscriptions.conftest import balances, count_kind, ledger_ok, make_plan, new_client
from tests.topups.helpers import create_topup, topup_row
from tests.tron.conftest import devnet, solidify_depth  # noqa: F401 - fixtures

USDT = 1_000_000


async def test_a_topup_paid_on_chain_is_credited_by_the_scanner(chain: Chain) -> None:  # noqa: F811
    db = chain.db
    await make_plan(db, monthly_fee=0, topup_fee_bps=100, is_default=True)  # 1 %
    client_id = await new_client(db)
    made = await create_topup(chain.app, client_id, 40 * USDT)
    await chain.pay(made.address, 40_500_000)  # a little more than asked
    await chain.devnet.mine()
    await chain.scan()
    assert (await chain.order_row(made.order_id)).status == "confirming"
    assert await balances(db, client_id) == {"EUR": 0, "USD": 0}

    await chain.devnet.mine(3)  # final now
    await chain.scan()
    order = await chain.order_row(made.order_id)
    assert (order.status, order.amount_received) == ("confirmed", 40_500_000)
    # 40.50 USD gross, 1 % fee = 0.41 (0.405 rounded up), 40.09 to the wallet.
    assert await balances(db, client_id) == {"EUR": 0, "USD": 4_009}
    row = await topup_row(db, made.topup.id)
    assert (row.status, row.gross_cents, row.fee_cents, row.credited_cents) == (
        "credited",
        4_050,
        41,
        4_009,
    )
    # More passes (nothing new) and more blocks credit nothing more.
    await chain.devnet.mine(2)
    await chain.scan()
    assert await balances(db, client_id) == {"EUR": 0, "USD": 4_009}
    assert await count_kind(db, "topup") == 1
    async with db.transaction() as session:
        # The internal merchant has no webhook URL: nothing is sent anywhere.
        deliveries = await session.scalars(
            select(WebhookDelivery)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookEvent.order_id == made.order_id)
        )
        assert deliveries.all() == []
    await ledger_ok(db)
