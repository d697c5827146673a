"""The devnet's block explorer: server-rendered pages of its blocks, transactions and addresses.

`/explorer/` (the chain's position, the latest blocks and transactions, a search box),
`/explorer/block/{number}`, `/explorer/transaction/{txid}` and `/explorer/address/{address}`.
No JavaScript: Jinja2 pages with an inline stylesheet allowed by a per-response CSP nonce.
Links come from `url_for`, so the pages are right wherever the devnet is mounted (`/devnet`
inside `paywarden serve`, the root of a bare `create_devnet_app`). Anything the explorer cannot
find or parse answers its 404 page, never a 500. Amounts are integers (sun, micro-USDT) shown
with their 6 decimals.

The chain keeps no address index: an address's transactions are found by walking the blocks
from the head, at most `MAX_SCANNED_TXS` transactions back (the devnet is small).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paywarden.kit.headers import SECURITY_HEADERS
from paywarden.kit.money import format_trx, format_usdt
from paywarden.kit.templating import page_templates
from paywarden.kit.time import iso
from paywarden.tron import crypto
from paywarden.tron.devnet.chain import (
    SELECTOR_TRANSFER,
    Account,
    Block,
    Chain,
    Included,
    recovered,
)

if TYPE_CHECKING:  # app.py installs the explorer: a runtime import would be a cycle
    from paywarden.tron.devnet.app import Devnet

LATEST = 20  # blocks and transactions on the front page
PAGE_SIZE = 25  # an address's transactions per page
MAX_SCANNED_TXS = 100_000  # how far back an address page looks
MAX_PAGE = 10_000

_TXID = re.compile(r"(?:0x)?([0-9a-fA-F]{64})")
_NUMBER = re.compile(r"[0-9]{1,18}")
# Contract fields that name the other party, and those that carry TRX (sun), in raw_data.
_PARTY_FIELDS = ("to_address", "receiver_address", "contract_address")
_SUN_FIELDS = ("amount", "balance", "frozen_balance", "unfreeze_balance", "call_value")
_KINDS = {
    "TransferContract": "TRX transfer",
    "TriggerSmartContract": "Contract call",
    "DelegateResourceContract": "Delegate resource",
    "UnDelegateResourceContract": "Undelegate resource",
    "FreezeBalanceV2Contract": "Stake (freeze)",
    "UnfreezeBalanceV2Contract": "Unstake (unfreeze)",
}

templates = page_templates(Path(__file__).parent / "templates")


def trx(sun: int) -> str:
    return f"{format_trx(sun)} TRX"


def usdt(units: int) -> str:
    return f"{format_usdt(units)} USDT"


def _time(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return str(iso(datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)))


# --- views: plain values read under the chain's lock, rendered after it is released ---------


@dataclass(frozen=True)
class TxRow:
    txid: str
    kind: str
    sender: str
    to: str | None
    amount: str | None
    result: str
    block: int | None  # None: pending, not in a block yet
    time: str | None
    status: str  # "pending", "unconfirmed" or "confirmed"


@dataclass(frozen=True)
class BlockRow:
    number: int
    block_id: str
    time: str
    txs: int
    status: str


@dataclass
class TxDetail:
    row: TxRow
    contract_type: str
    fee: str
    energy: list[tuple[str, str]]
    bandwidth: list[tuple[str, str]]
    fee_limit: str | None
    confirmations: int | None
    raw_data: str
    signature: list[str]


@dataclass
class AddressView:
    address: str
    hex: str
    activated: bool
    label: str | None
    trx: str
    usdt: str
    created: str | None
    resources: list[tuple[str, str]]
    delegated_in: list[tuple[str, str]]
    delegated_out: list[tuple[str, str]]
    txs: list[TxRow] = field(default_factory=list)
    page: int = 1
    has_next: bool = False
    truncated: bool = False


def _status(chain: Chain, block: Block | None) -> str:
    if block is None:
        return "pending"
    return "confirmed" if block.number <= chain.solidified.number else "unconfirmed"


def _usdt_call(chain: Chain, included: Included) -> tuple[str, int] | None:
    """The (recipient, amount) of a USDT transfer() call: what moved, or what was asked for a
    call that failed."""
    if included.effects.transfer is not None:
        _, to, amount = included.effects.transfer
        return to, amount
    value = included.tx.value
    data = str(value.get("data", "")).lower()
    if (
        included.tx.contract_type != "TriggerSmartContract"
        or str(value.get("contract_address", "")).lower() != crypto.to_hex(chain.usdt_contract)
        or not data.startswith(SELECTOR_TRANSFER)
        or len(data) != 8 + 128
    ):
        return None
    try:
        recipient, amount = int(data[8:72], 16), int(data[72:], 16)
    except ValueError:
        return None
    if recipient >> 160:
        return None
    return crypto.to_base58(bytes([crypto.ADDRESS_PREFIX]) + recipient.to_bytes(20)), amount


def _row(chain: Chain, block: Block | None, included: Included) -> TxRow:
    tx = included.tx
    value = tx.value
    kind = _KINDS.get(tx.contract_type, tx.contract_type)
    party = next((value[f] for f in _PARTY_FIELDS if value.get(f)), None)
    to = crypto.normalize(str(party)) if crypto.is_address(party) else None
    sun = next((int(value[f]) for f in _SUN_FIELDS if value.get(f)), None)
    amount = trx(sun) if sun is not None else None
    if value.get("resource"):
        kind = f"{kind} ({value['resource']})"
    sender = tx.owner
    transfer = _usdt_call(chain, included)
    approval = included.effects.approval
    if transfer is not None:
        kind = "USDT transfer (TRC-20)"
        to, amount = transfer[0], usdt(transfer[1])
        if included.effects.transfer is not None:
            sender = included.effects.transfer[0]  # transferFrom moves another holder's USDT
    elif approval is not None:
        kind = "USDT approval (TRC-20)"
        to, amount = approval[1], usdt(approval[2])
    return TxRow(
        txid=tx.txid,
        kind=kind,
        sender=sender,
        to=to,
        amount=amount,
        result=included.effects.result,
        block=block.number if block else None,
        time=_time(block.timestamp) if block else None,
        status=_status(chain, block),
    )


def _newest_first(chain: Chain) -> Iterator[tuple[Block | None, Included]]:
    """The pending transactions, then those in blocks from the head down."""
    for included in reversed(chain.pending):
        yield None, included
    for block in reversed(chain.blocks):
        for included in reversed(block.txs):
            yield block, included


def _touches(included: Included, hex_address: str, address: str) -> bool:
    """Whether a transaction names the address: as owner, party, USDT sender, recipient or
    spender. Compares raw_data's hex forms as they are: walking many transactions stays cheap."""
    value = included.tx.contract["parameter"]["value"]
    for name in ("owner_address", *_PARTY_FIELDS):
        if str(value.get(name, "")).lower() == hex_address:
            return True
    data = str(value.get("data", "")).lower()
    if data.startswith(SELECTOR_TRANSFER) and data[32:72] == hex_address[2:]:
        return True
    moved = (included.effects.transfer or ())[:2] + (included.effects.approval or ())[:2]
    return address in moved


def front_page(chain: Chain) -> dict[str, Any]:
    txs = []
    for block, included in _newest_first(chain):
        if len(txs) == LATEST:
            break
        txs.append(_row(chain, block, included))
    return {
        "head": chain.head.number,
        "solidified": chain.solidified.number,
        "depth": chain.solidify_depth,
        "pending": len(chain.pending),
        "blocks": [_block_row(chain, b) for b in reversed(chain.blocks[-LATEST:])],
        "txs": txs,
        "accounts": _roles(chain),
    }


def _roles(chain: Chain) -> list[tuple[str, str]]:
    """The devnet's built-in accounts: (role, address)."""
    return [
        ("USDT contract (TRC-20)", chain.usdt_contract),
        ("Treasury (faucet)", chain.treasury.address),
        *((f"Customer {i}", c.address) for i, c in enumerate(chain.customers)),
    ]


def _block_row(chain: Chain, block: Block) -> BlockRow:
    return BlockRow(
        block.number, block.block_id, _time(block.timestamp), len(block.txs), _status(chain, block)
    )


def block_page(chain: Chain, number: int) -> dict[str, Any] | None:
    block = chain.block(number)
    if block is None:
        return None
    return {
        "block": _block_row(chain, block),
        "parent_hash": block.parent_hash,
        "witness": block.witness,
        "previous": number - 1 if number > 0 else None,
        "next": number + 1 if number < chain.head.number else None,
        "txs": [_row(chain, block, i) for i in block.txs],
    }


def _receipt_lines(
    receipt: dict[str, int | str],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The energy and the bandwidth a transaction used, and what they burned."""

    def get(name: str) -> int:
        return int(receipt.get(name, 0))

    energy = []
    if get("energy_usage_total"):
        energy.append(("Used", f"{get('energy_usage_total'):,}"))
        energy.append(("From staked or delegated energy", f"{get('energy_usage'):,}"))
        energy.append(("Burned for energy", trx(get("energy_fee"))))
    bandwidth = []
    if get("net_usage"):
        bandwidth.append(("Used (free or staked)", f"{get('net_usage'):,} bytes"))
    if get("net_fee"):
        bandwidth.append(("Burned for bandwidth", trx(get("net_fee"))))
    return energy, bandwidth


def transaction_page(chain: Chain, txid: str) -> TxDetail | None:
    found = chain.find(txid)
    block: Block | None = None
    if found is not None:
        block, included = found
    else:
        pending = [i for i in chain.pending if i.tx.txid == txid]
        if not pending:
            return None
        included = pending[0]
    tx = included.tx
    energy, bandwidth = _receipt_lines(included.effects.receipt)
    fee_limit = tx.raw_data.get("fee_limit")
    return TxDetail(
        row=_row(chain, block, included),
        contract_type=tx.contract_type,
        fee=trx(included.effects.fee),
        energy=energy,
        bandwidth=bandwidth,
        fee_limit=trx(int(fee_limit)) if fee_limit else None,
        confirmations=chain.head.number - block.number if block else None,
        raw_data=json.dumps(tx.raw_data, indent=2),
        signature=[s.hex() for s in tx.signatures],
    )


def _resource_lines(chain: Chain, account: Account) -> list[tuple[str, str]]:
    now = chain.now_ms()
    window = chain.params.window_ms
    energy_used = recovered(account.energy_used, account.energy_time, now, window)
    net_used = recovered(account.net_used, account.net_time, now, window)
    free_used = recovered(account.free_net_used, account.free_net_time, now, window)
    return [
        ("Staked for energy", trx(account.frozen_energy)),
        ("Delegated to it", trx(sum(account.energy_delegated_in.values()))),
        ("Delegated by it", trx(sum(account.energy_delegated_out.values()))),
        ("Energy limit (a day)", f"{chain.energy_limit(account):,}"),
        ("Energy used (recovering)", f"{energy_used:,}"),
        ("Staked for bandwidth", trx(account.frozen_bandwidth)),
        ("Staked bandwidth used", f"{net_used:,} of {chain.net_limit(account):,} bytes"),
        ("Free bandwidth used", f"{free_used:,} of {chain.params.free_net_limit:,} bytes"),
    ]


def _address_txs(chain: Chain, address: str, page: int) -> tuple[list[TxRow], bool, bool]:
    """One page of the transactions naming `address`, newest first; whether there are older
    ones, and whether the walk stopped at MAX_SCANNED_TXS."""
    hex_address = crypto.to_hex(address)
    rows: list[TxRow] = []
    skip = (page - 1) * PAGE_SIZE
    for scanned, (block, included) in enumerate(_newest_first(chain)):
        if scanned == MAX_SCANNED_TXS:
            return rows, False, True
        if not _touches(included, hex_address, address):
            continue
        if skip:
            skip -= 1
        elif len(rows) == PAGE_SIZE:
            return rows, True, False
        else:
            rows.append(_row(chain, block, included))
    return rows, False, False


def _delegations(book: dict[str, int]) -> list[tuple[str, str]]:
    return sorted((address, trx(sun)) for address, sun in book.items())


def address_page(chain: Chain, address: str, page: int) -> AddressView | None:
    account = chain.account(address)
    balance = chain.usdt_balance(address)
    rows, has_next, truncated = _address_txs(chain, address, page)
    if not rows and page > 1:
        return None  # a page past the end
    # A valid address nothing has named yet is shown empty, as tronscan shows it: the console
    # links an unpaid order's deposit address here.
    view = AddressView(
        address=address,
        hex=crypto.to_hex(address),
        activated=account is not None,
        label=next((role for role, a in _roles(chain) if a == address), None),
        trx=trx(0),
        usdt=usdt(balance),
        created=None,
        resources=[],
        delegated_in=[],
        delegated_out=[],
        txs=rows,
        page=page,
        has_next=has_next,
        truncated=truncated,
    )
    if account is not None:
        view.trx = trx(account.balance)
        view.created = _time(account.create_time)
        view.resources = _resource_lines(chain, account)
        view.delegated_in = _delegations(account.energy_delegated_in)
        view.delegated_out = _delegations(account.energy_delegated_out)
    return view


# --- HTTP ---------------------------------------------------------------------------------------


class Links:
    """The explorer's URLs for a request, under whatever prefix the app is mounted at."""

    def __init__(self, request: Request) -> None:
        self.request = request

    def _path(self, name: str, **params: Any) -> str:
        return self.request.url_for(name, **params).path

    @property
    def home(self) -> str:
        return self._path("devnet_explorer")

    @property
    def search(self) -> str:
        return self._path("devnet_explorer_search")

    def block(self, number: int) -> str:
        return self._path("devnet_explorer_block", number=str(number))

    def tx(self, txid: str) -> str:
        return self._path("devnet_explorer_transaction", txid=txid)

    def address(self, address: str, page: int = 1) -> str:
        path = self._path("devnet_explorer_address", address=address)
        return f"{path}?page={page}" if page > 1 else path


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    body = templates.get_template(template).render(nonce=nonce, links=Links(request), **context)
    csp = (
        "default-src 'none'; "
        f"style-src 'nonce-{nonce}'; "
        "img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    headers = {"Content-Security-Policy": csp, "Cache-Control": "no-store", **SECURITY_HEADERS}
    return HTMLResponse(body, status_code=status_code, headers=headers)


def not_found(request: Request, what: str, detail: str) -> HTMLResponse:
    return render(request, "not_found.html", {"what": what, "detail": detail}, status_code=404)


def parse_txid(text: str) -> str | None:
    match = _TXID.fullmatch(text)
    return match.group(1).lower() if match else None


def parse_number(text: str) -> int | None:
    return int(text) if _NUMBER.fullmatch(text) else None


def parse_address(text: str) -> str | None:
    """The base58 form of an address given either way (hex is 42 characters, base58 34)."""
    return crypto.normalize(text) if len(text) <= 42 and crypto.is_address(text) else None


def install_explorer(app: FastAPI, devnet: Devnet) -> None:
    """Add the explorer's pages to the devnet's app, under `/explorer` (once: a second call
    is a no-op)."""
    if getattr(app.state, "devnet_explorer", False):
        return
    app.state.devnet_explorer = True
    chain = devnet.chain

    def route(path: str, name: str) -> Any:
        return app.get(path, name=name, include_in_schema=False, response_model=None)

    @route("/explorer", "devnet_explorer_bare")
    async def bare(request: Request) -> Response:
        return RedirectResponse(Links(request).home, 308)

    @route("/explorer/", "devnet_explorer")
    async def home(request: Request) -> Response:
        async with devnet.lock:
            context = front_page(chain)
        return render(request, "index.html", context)

    @route("/explorer/search", "devnet_explorer_search")
    async def search(request: Request, q: str = "") -> Response:
        links = Links(request)
        text = q.strip()
        number, txid = parse_number(text), parse_txid(text)
        if not text:
            return RedirectResponse(links.home, 303)
        if number is not None:
            return RedirectResponse(links.block(number), 303)
        if txid is not None:
            async with devnet.lock:
                block = next((b for b in chain.blocks if b.block_id == txid), None)
            target = links.block(block.number) if block else links.tx(txid)
            return RedirectResponse(target, 303)
        found = parse_address(text)
        if found is not None:
            return RedirectResponse(links.address(found), 303)
        return not_found(
            request,
            "Nothing matches",
            "Search for a block number, a transaction hash (64 hex digits) or a TRON address "
            "(T… or 41…).",
        )

    @route("/explorer/block/{number}", "devnet_explorer_block")
    async def block(request: Request, number: str) -> Response:
        parsed = parse_number(number)
        if parsed is None:
            return not_found(request, "Block not found", "A block number is a whole number.")
        async with devnet.lock:
            context = block_page(chain, parsed)
        if context is None:
            return not_found(request, "Block not found", f"The devnet has no block {parsed} yet.")
        return render(request, "block.html", context)

    @route("/explorer/transaction/{txid}", "devnet_explorer_transaction")
    async def transaction(request: Request, txid: str) -> Response:
        parsed = parse_txid(txid)
        if parsed is None:
            return not_found(
                request, "Transaction not found", "A transaction hash is 64 hex digits."
            )
        async with devnet.lock:
            detail = transaction_page(chain, parsed)
        if detail is None:
            return not_found(
                request,
                "Transaction not found",
                "No transaction with this hash is in a block or pending on the devnet "
                "(a restart starts a fresh chain).",
            )
        return render(request, "transaction.html", {"tx": detail})

    @route("/explorer/address/{address}", "devnet_explorer_address")
    async def address(request: Request, address: str, page: str = "1") -> Response:
        number, parsed = parse_number(page), parse_address(address)
        if parsed is None:
            return not_found(
                request, "Address not found", "A TRON address is base58 (T…) or hex (41…)."
            )
        if number is None or not 1 <= number <= MAX_PAGE:
            return not_found(request, "Page not found", "Pages are numbered from 1.")
        async with devnet.lock:
            view = address_page(chain, parsed, number)
        if view is None:
            return not_found(
                request,
                "Address not found",
                "This address has no transactions on that page.",
            )
        return render(request, "address.html", {"a": view})

    @route("/explorer/{rest:path}", "devnet_explorer_unknown")
    async def unknown(request: Request, rest: str) -> Response:
        return not_found(request, "Page not found", "The explorer has no such page.")
