"""`paywarden devnet pay <order-id>`: a newcomer pays an order on the devnet of the running app
with one command, and the scanner confirms it at once (the blocks are mined to finality)."""

from __future__ import annotations

import uuid

from tests.chain.conftest import Chain
from tests.test_cli import run_cli


def _env(chain: Chain) -> dict[str, str]:
    base = chain.devnet.url.removesuffix("/devnet")  # the app that mounts the devnet
    return {"PUBLIC_BASE_URL": base, "TRON_NETWORK": "devnet", "DEVNET_SOLIDIFY_DEPTH": "3"}


async def test_it_pays_what_the_order_expects(chain: Chain, database_url: str) -> None:
    order = await chain.order("12.5")
    code, out = await run_cli(database_url, "devnet", "pay", order["id"], env=_env(chain))
    assert code == 0, out
    assert f"paid 12.500000 USDT to {order['address']}" in out
    await chain.scan()
    row = await chain.order_row(order["id"])
    assert (row.status, row.amount_received) == ("confirmed", 12_500_000)


async def test_a_part_then_the_rest(chain: Chain, database_url: str) -> None:
    order = await chain.order("10")
    code, out = await run_cli(
        database_url, "devnet", "pay", order["id"], "--amount", "4", env=_env(chain)
    )
    assert code == 0, out
    await chain.scan()
    assert (await chain.order_row(order["id"])).amount_received == 4_000_000
    code, out = await run_cli(database_url, "devnet", "pay", order["id"], env=_env(chain))
    assert code == 0, out
    assert "paid 6.000000 USDT" in out  # what it still expects
    await chain.scan()
    assert (await chain.order_row(order["id"])).status == "confirmed"
    code, out = await run_cli(database_url, "devnet", "pay", order["id"], env=_env(chain))
    assert code == 1
    assert "expects nothing more" in out


async def test_clear_refusals(chain: Chain, database_url: str) -> None:
    code, out = await run_cli(database_url, "devnet", "pay", "not-an-id", env=_env(chain))
    assert code == 2
    assert "not an order id" in out
    code, out = await run_cli(database_url, "devnet", "pay", str(uuid.uuid4()), env=_env(chain))
    assert code == 1
    assert "not found" in out.lower()
    nile = {**_env(chain), "TRON_NETWORK": "nile", "TRONGRID_API_KEY": "k"}
    code, out = await run_cli(database_url, "devnet", "pay", str(uuid.uuid4()), env=nile)
    assert code == 2
    assert "no devnet" in out


async def test_a_devnet_of_its_own_is_paid_where_trongrid_url_points(
    chain: Chain, database_url: str
) -> None:
    """The scaled set-up runs the devnet alone (TRONGRID_URL): paying on the app's own would
    pay a chain the scanner never reads."""
    order = await chain.order("3")
    env = {**_env(chain), "PUBLIC_BASE_URL": "http://127.0.0.1:9", "TRONGRID_URL": chain.devnet.url}
    code, out = await run_cli(database_url, "devnet", "pay", order["id"], env=env)
    assert code == 0, out
    await chain.scan()
    assert (await chain.order_row(order["id"])).status == "confirmed"
