"""The devnet's explorer pages over real HTTP: mounted at /devnet as the gateway mounts it, and at
the root as a bare devnet app; amounts, search, paging, 404s and the network preset's links."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import Mount
from tronpy.keys import PrivateKey

from paywarden.kit.db import Database
from paywarden.kit.time import utcnow
from paywarden.models import ChainTransfer
from paywarden.tron import crypto
from paywarden.tron.devnet import Chain, create_devnet_app, mount_devnet, new_chain
from paywarden.tron.devnet.explorer import PAGE_SIZE, install_explorer
from paywarden.tron.networks import network_for
from tests.factories import create_merchant, create_payment
from tests.servers import serve
from tests.tron.conftest import SUN

SOLIDIFY_DEPTH = 3
ACTIVATION_FEE = 1_000_000 + 100_000  # the system contract's fee plus the bandwidth burn


@dataclass
class Explorer:
    base: str  # the app's origin; the devnet is at {base}/devnet
    http: httpx.AsyncClient  # on base
    chain: Chain

    async def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(f"/devnet{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def signed(self, path: str, body: dict[str, Any], key: crypto.KeyPair) -> str:
        """Build a transaction with /wallet{path}, sign it with `key`, broadcast it; its id."""
        unsigned = await self.http.post(f"/devnet/wallet{path}", json={**body, "visible": True})
        assert "txID" in unsigned.json(), unsigned.text
        signed = self.chain.sign(unsigned.json(), key)
        broadcast = await self.http.post("/devnet/wallet/broadcasttransaction", json=signed)
        assert broadcast.json().get("result") is True, broadcast.text
        return str(signed["txID"])

    async def page(self, path: str, status: int = 200) -> str:
        response = await self.http.get(f"/devnet/explorer{path}")
        assert response.status_code == status, (path, response.text[-2000:])
        assert response.headers["content-type"].startswith("text/html")
        return response.text


@pytest.fixture
async def explorer() -> AsyncIterator[Explorer]:
    app = FastAPI()
    chain = new_chain(SOLIDIFY_DEPTH)
    sub = mount_devnet(app, "/devnet", chain=chain, block_seconds=None)
    install_explorer(sub, sub.state.devnet)
    async for base in serve(app):
        async with httpx.AsyncClient(base_url=base) as http:
            yield Explorer(base, http, chain)


def new_address() -> str:
    return PrivateKey.random().public_key.to_base58check_address()


def hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


async def test_front_page_lists_blocks_and_transactions(explorer: Explorer) -> None:
    to = new_address()
    faucet = (await explorer.control("/faucet", {"address": to, "trx": 5 * SUN}))["tx_hashes"]
    paid = (await explorer.control("/pay", {"to": to, "amount": 2_500_000}))["tx_hash"]
    await explorer.control("/mine", {"blocks": 4})

    response = await explorer.http.get("/devnet/explorer/")
    assert response.status_code == 200
    page = response.text
    assert re.search(r'id="head"><a href="/devnet/explorer/block/4">4</a>', page)
    assert re.search(r'id="solidified"><a href="/devnet/explorer/block/1">1</a>', page)
    # Block 1 holds both transactions; the rest are empty.
    assert re.search(r'block/1">1</a></td><td>[^<]+</td><td class="num">2</td>', page)
    assert re.search(r'block/4">4</a></td><td>[^<]+</td><td class="num">0</td>', page)
    for txid in (*faucet, paid):
        assert f'href="/devnet/explorer/transaction/{txid}"' in page
    assert page.index(paid) < page.index(faucet[0])  # newest first
    assert "5.000000 TRX" in page
    assert "2.500000 USDT" in page
    # Every link of the page stays under the mount and answers.
    for href in set(hrefs(page)) - {"data:,"}:
        assert href.startswith("/devnet/explorer"), href
        assert (await explorer.http.get(href)).status_code == 200, href

    # Security headers: a nonce for the one inline stylesheet, no script at all.
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce
    assert f'<style nonce="{nonce.group(1)}">' in page
    assert "default-src 'none'" in csp
    assert "<script" not in page
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_transaction_pages_show_amounts_fees_and_confirmation(explorer: Explorer) -> None:
    to = new_address()
    trx_tx, usdt_tx = (
        await explorer.control("/faucet", {"address": to, "trx": 5 * SUN, "usdt": 1_500_000})
    )["tx_hashes"]

    pending = await explorer.page(f"/transaction/{trx_tx}")
    assert "not in a block yet" in pending
    assert 'class="badge pending"' in pending

    await explorer.control("/mine", {"blocks": 1})
    page = await explorer.page(f"/transaction/{trx_tx}")
    assert "TRX transfer" in page
    assert '<dd id="amount">5.000000 TRX</dd>' in page
    assert f'<dd id="fee">{ACTIVATION_FEE // SUN}.{ACTIVATION_FEE % SUN:06d} TRX</dd>' in page
    assert f'href="/devnet/explorer/address/{explorer.chain.treasury.address}"' in page
    assert f'href="/devnet/explorer/address/{to}"' in page
    assert 'href="/devnet/explorer/block/1"' in page
    assert 'badge SUCCESS">SUCCESS' in page
    assert 'badge unconfirmed">unconfirmed' in page
    # raw_data as JSON (escaped), with the addresses in their hex form.
    assert "&#34;amount&#34;: 5000000" in page
    assert "&#34;to_address&#34;: &#34;41" in page

    page = await explorer.page(f"/transaction/{usdt_tx}")
    assert "USDT transfer (TRC-20)" in page
    assert '<dd id="amount">1.500000 USDT</dd>' in page
    assert "Used: 130,285" in page  # a first-time USDT holder's energy, burned as TRX
    assert "Burned for energy: 13.028500 TRX" in page
    assert '<dd id="fee">13.028500 TRX</dd>' in page
    assert "Fee limit</dt><dd>100.000000 TRX" in page

    await explorer.control("/mine", {"blocks": SOLIDIFY_DEPTH})
    page = await explorer.page(f"/transaction/{usdt_tx.upper()}")
    assert 'badge confirmed">confirmed' in page
    assert f"{SOLIDIFY_DEPTH} blocks on top" in page


async def test_a_failed_transfer_shows_what_it_asked_for(explorer: Explorer) -> None:
    too_much = 10**9 * SUN  # more USDT than a customer holds: USDT reverts
    response = await explorer.http.post(
        "/devnet/pay", json={"to": new_address(), "amount": too_much}
    )
    assert response.status_code == 400
    txid = re.search(r"[0-9a-f]{64}", response.json()["error"])
    assert txid
    await explorer.control("/mine", {"blocks": 1})
    page = await explorer.page(f"/transaction/{txid.group(0)}")
    assert 'badge REVERT">REVERT' in page
    assert '<dd id="amount">1000000000.000000 USDT</dd>' in page


async def test_address_page_balances_energy_and_paged_transactions(explorer: Explorer) -> None:
    chain = explorer.chain
    to = new_address()
    await explorer.control("/faucet", {"address": to, "trx": 7 * SUN, "usdt": 250_000})
    batch = [{"to": to, "amount": 1_000_000 + i} for i in range(PAGE_SIZE)]
    txids = (await explorer.control("/pay-batch", {"payments": batch}))["tx_hashes"]
    await explorer.control("/mine", {"blocks": 1})
    # A customer stakes 300 TRX for energy and delegates 100 TRX of it (real signed transactions).
    customer = chain.customers[1]
    await explorer.signed(
        "/freezebalancev2",
        {"owner_address": customer.address, "frozen_balance": 300 * SUN, "resource": "ENERGY"},
        customer,
    )
    delegation = await explorer.signed(
        "/delegateresource",
        {
            "owner_address": customer.address,
            "receiver_address": to,
            "balance": 100 * SUN,
            "resource": "ENERGY",
        },
        customer,
    )
    await explorer.control("/mine", {"blocks": 1})

    page = await explorer.page(f"/address/{to}")
    assert '<dd id="trx">7.000000 TRX</dd>' in page
    usdt = 250_000 + sum(p["amount"] for p in batch)
    assert f'<dd id="usdt">{usdt // SUN}.{usdt % SUN:06d} USDT</dd>' in page
    assert "Delegated to it</dt><dd>100.000000 TRX" in page
    assert "Energy limit (a day)</dt><dd>1,000" in page
    # Newest first: the delegation, then the batch from its last payment down; the batch's first
    # payment and the faucet's two transactions are on page 2.
    assert page.index(delegation) < page.index(txids[-1]) < page.index(txids[1])
    assert txids[0] not in page
    assert f'rel="next" href="/devnet/explorer/address/{to}?page=2"' in page
    assert "Delegate resource (ENERGY)" in page
    older = await explorer.page(f"/address/{to}?page=2")
    assert txids[0] in older
    assert older.count('href="/devnet/explorer/transaction/') == 3  # txids[0] and the faucet's
    assert 'rel="prev"' in older
    assert 'rel="next"' not in older
    await explorer.page(f"/address/{to}?page=3", 404)

    # The giver's side, and the hex form of the same address.
    giver = await explorer.page(f"/address/{crypto.to_hex(customer.address)}")
    assert "Delegated by it</dt><dd>100.000000 TRX" in giver
    assert "Staked for energy</dt><dd>200.000000 TRX" in giver
    assert "Stake (freeze) (ENERGY)" in giver
    assert "Customer 1" in giver
    # A USDT holder that was never activated is still shown.
    holder = new_address()
    await explorer.control("/pay", {"to": holder, "amount": 3})
    page = await explorer.page(f"/address/{holder}")
    assert '<dd id="usdt">0.000003 USDT</dd>' in page
    assert "not activated" in page


async def test_search_redirects_to_the_right_page(explorer: Explorer) -> None:
    to = new_address()
    [txid] = (await explorer.control("/faucet", {"address": to, "trx": SUN}))["tx_hashes"]
    await explorer.control("/mine", {"blocks": 2})
    block_id = explorer.chain.blocks[1].block_id
    hex_address = PrivateKey.random().public_key.to_hex_address()  # "41..."

    cases = {
        "2": "/devnet/explorer/block/2",
        " 999 ": "/devnet/explorer/block/999",  # its page says it is unknown
        txid: f"/devnet/explorer/transaction/{txid}",
        "0x" + txid.upper(): f"/devnet/explorer/transaction/{txid}",
        block_id: "/devnet/explorer/block/1",
        to: f"/devnet/explorer/address/{to}",
        hex_address: f"/devnet/explorer/address/{crypto.normalize(hex_address)}",
        "": "/devnet/explorer/",
    }
    for query, target in cases.items():
        response = await explorer.http.get("/devnet/explorer/search", params={"q": query})
        assert response.status_code == 303, query
        assert response.headers["location"] == target, query

    nothing = await explorer.http.get(
        "/devnet/explorer/search", params={"q": "<script>alert(1)</script>"}
    )
    assert nothing.status_code == 404
    assert "Nothing matches" in nothing.text
    assert "<script>alert" not in nothing.text


async def test_unknown_and_malformed_ids_answer_the_404_page(explorer: Explorer) -> None:
    paths = [
        "/block/7",
        "/block/-1",
        "/block/abc",
        "/block/1e3",
        "/block/" + "9" * 40,
        "/block/",
        "/transaction/" + "ab" * 32,
        "/transaction/xyz",
        "/transaction/" + "ab" * 33,
        "/address/Tnot-an-address",
        "/address/%3Cb%3E",
        "/address/" + "T" * 5_000,
        f"/address/{explorer.chain.treasury.address}?page=0",
        f"/address/{explorer.chain.treasury.address}?page=x",
        f"/address/{explorer.chain.treasury.address}?page=2",
        "/no/such/page",
    ]
    for path in paths:
        page = await explorer.page(path, 404)
        assert "Devnet explorer</title>" in page, path
        assert 'href="/devnet/explorer/"' in page, path
    assert (await explorer.http.get("/devnet/explorer")).headers["location"] == "/devnet/explorer/"


async def test_an_address_nothing_has_named_yet_is_shown_empty(explorer: Explorer) -> None:
    # The console links an unpaid order's deposit address: it must not answer 404.
    page = await explorer.page(f"/address/{new_address()}", 200)
    assert "not activated" in page
    assert "0.000000" in page


async def test_the_network_presets_explorer_links_answer(explorer: Explorer) -> None:
    network = network_for("devnet", explorer.base)
    assert "#" not in network.tx_explorer_base_url + network.address_explorer_base_url
    to = new_address()
    [txid] = (await explorer.control("/faucet", {"address": to, "trx": SUN}))["tx_hashes"]
    await explorer.control("/mine", {"blocks": 1})
    for url in (network.tx_explorer_base_url + txid, network.address_explorer_base_url + to):
        response = await explorer.http.get(url)
        assert response.status_code == 200, url
    # Real networks keep tronscan's.
    nile = network_for("nile", explorer.base)
    assert nile.tx_explorer_base_url == "https://nile.tronscan.org/#/transaction/"


async def test_a_bare_devnet_app_serves_the_explorer_at_its_root() -> None:
    app = create_devnet_app(block_seconds=None)
    install_explorer(app, app.state.devnet)
    install_explorer(app, app.state.devnet)  # a second call adds nothing
    async for base in serve(app):
        async with httpx.AsyncClient(base_url=base) as http:
            [txid] = (
                await http.post("/faucet", json={"address": new_address(), "trx": SUN})
            ).json()["tx_hashes"]
            await http.post("/mine", json={"blocks": 1})
            page = (await http.get("/explorer/")).text
            assert f'href="/explorer/transaction/{txid}"' in page
            assert 'action="/explorer/search"' in page
            search = await http.get("/explorer/search", params={"q": "1"})
            assert search.headers["location"] == "/explorer/block/1"
            assert (await http.get("/explorer/block/1")).status_code == 200
            assert (await http.get("/explorer/block/2")).status_code == 404


def _app_devnet(app: FastAPI) -> FastAPI:
    """The devnet the gateway app mounts at /devnet (TRON_NETWORK=devnet)."""
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/devnet")
    sub = mount.app
    assert isinstance(sub, FastAPI)
    return sub


async def test_the_consoles_explorer_links_answer_on_the_devnet(
    app: FastAPI, admin_client: httpx.AsyncClient, db: Database
) -> None:
    devnet_app = _app_devnet(app)
    install_explorer(devnet_app, devnet_app.state.devnet)
    shop = await create_merchant(db)
    order = await create_payment(admin_client, shop)
    paid = await admin_client.post(
        "/devnet/pay", json={"to": order["address"], "amount": 12_500_000}
    )
    tx_hash = paid.json()["tx_hash"]
    await admin_client.post("/devnet/mine", json={"blocks": 1})
    # The transfer as the scanner records it (the scanner itself is tested in tests/chain).
    async with db.transaction() as s:
        s.add(
            ChainTransfer(
                tx_hash=tx_hash,
                event_index=0,
                block_number=1,
                block_timestamp=utcnow(),
                from_address=devnet_app.state.devnet.chain.customers[0].address,
                to_address=str(order["address"]),
                amount=12_500_000,
                order_id=uuid.UUID(str(order["id"])),
                status="seen",
            )
        )
    page = (await admin_client.get(f"/admin/orders/{order['id']}")).text
    public = app.state.settings.public_base_url
    links = [h for h in hrefs(page) if h.startswith(f"{public}/devnet/explorer/")]
    assert f"{public}/devnet/explorer/transaction/{tx_hash}" in links
    assert f"{public}/devnet/explorer/address/{order['address']}" in links
    for link in links:
        response = await admin_client.get(link.removeprefix(public))
        assert response.status_code == 200, link
        assert "12.500000 USDT" in response.text
