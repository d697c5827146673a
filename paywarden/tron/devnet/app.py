"""The devnet over HTTP: TronGrid's API subset with its JSON shapes, and a control API.

TronGrid paths (`/wallet/...`, `/walletsolidity/...`, `/v1/...`) answer as java-tron and
TronGrid do: HTTP 200 with `{"Error": ...}` or a `code` for a refused call, TronGrid v1's
`{"success": false, "error": ...}` for a bad query. The java-tron paths (handlers in `wallet.py`)
answer in non-visible JSON (addresses as "41..." hex) unless the request says `visible` (JSON
true, or "true" in the query string): then base58 everywhere, raw_data included. TronGrid v1's
events, accounts and TRC-20 history use its own forms. Requests may give addresses in either form.

The control API (`/pay`, `/faucet`, `/mine`, `/reorg`, `/state`) renders errors in the app's
`{"error", "code"}` shape. Mounted at `/devnet` (see `mount_devnet`) the TronGrid base URL is
`<host>/devnet` and the control API is `<host>/devnet/pay` and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paywarden.kit.errors import error_body, install_error_handlers
from paywarden.kit.logging import get_logger
from paywarden.tron import crypto
from paywarden.tron.devnet import params, views, wallet
from paywarden.tron.devnet.chain import Chain, DevnetError, Rejected
from paywarden.tron.devnet.explorer import install_explorer
from paywarden.tron.networks import network_for

log = get_logger(__name__)

DEFAULT_BLOCK_SECONDS = 3.0
DEFAULT_SOLIDIFY_DEPTH = 19
MAX_EVENTS_PAGE = 200
DEFAULT_V1_PAGE = 20


@dataclass
class Devnet:
    """A chain, the lock that serialises every access to it, and its block timer."""

    chain: Chain
    block_seconds: float | None = DEFAULT_BLOCK_SECONDS  # None or 0: blocks only on /mine
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def new_chain(solidify_depth: int = DEFAULT_SOLIDIFY_DEPTH) -> Chain:
    """A fresh chain with USDT where the "devnet" network preset says it is."""
    return Chain(network_for("devnet", "").usdt_contract, solidify_depth=solidify_depth)


async def _produce_blocks(devnet: Devnet) -> None:
    assert devnet.block_seconds
    while True:
        await asyncio.sleep(devnet.block_seconds)
        async with devnet.lock:
            devnet.chain.mine(1)


@contextlib.asynccontextmanager
async def block_production(devnet: Devnet) -> AsyncIterator[None]:
    """Mine a block every `block_seconds` while open (nothing when the timer is off)."""
    task = asyncio.create_task(_produce_blocks(devnet)) if devnet.block_seconds else None
    try:
        yield
    finally:
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# --- the app ----------------------------------------------------------------------------------


def create_devnet_app(
    chain: Chain | None = None,
    *,
    block_seconds: float | None = DEFAULT_BLOCK_SECONDS,
    run_lifespan: bool = True,
) -> FastAPI:
    """The devnet as an ASGI app; its lifespan runs the block timer.

    A mounted app's lifespan does not run: `mount_devnet` passes `run_lifespan=False` and
    runs the timer from the parent's lifespan instead.
    """
    devnet = Devnet(chain or new_chain(), block_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with block_production(devnet):
            yield

    app = FastAPI(
        title="PayWarden TRON devnet",
        lifespan=lifespan if run_lifespan else None,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.devnet = devnet
    install_error_handlers(app)
    _install_control_errors(app)
    _add_trongrid_routes(app, devnet)
    _add_control_routes(app, devnet)
    install_explorer(app, devnet)
    return app


def mount_devnet(
    app: FastAPI,
    prefix: str = "/devnet",
    *,
    chain: Chain | None = None,
    block_seconds: float | None = DEFAULT_BLOCK_SECONDS,
    solidify_depth: int = DEFAULT_SOLIDIFY_DEPTH,
) -> FastAPI:
    """Mount the devnet under `prefix` and run its block timer in `app`'s lifespan.

    The java-tron paths (`/wallet/...`, `/walletsolidity/...`) are also served at `app`'s root:
    tronpy joins its base URL and a path with urljoin, which drops the base URL's last segment
    (`http://host/devnet` + `wallet/getaccount` is `http://host/wallet/getaccount`), so a
    developer pointing tronpy at `<host>/devnet`, as at TronGrid, would otherwise get 404s. The
    app has no paths of its own there.
    """
    sub = create_devnet_app(
        chain or new_chain(solidify_depth), block_seconds=block_seconds, run_lifespan=False
    )
    devnet: Devnet = sub.state.devnet
    parent_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        async with block_production(devnet), parent_lifespan(parent) as state:
            yield state

    app.router.lifespan_context = lifespan
    app.mount(prefix, sub)
    _add_wallet_routes(app, devnet)
    return sub


def _install_control_errors(app: FastAPI) -> None:
    async def devnet_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "DEVNET_ERROR"), 400)

    async def rejected(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Rejected)
        return JSONResponse(error_body(exc.message, exc.code), 400)

    async def bad_address(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "INVALID_ADDRESS"), 400)

    app.add_exception_handler(DevnetError, devnet_error)
    app.add_exception_handler(Rejected, rejected)
    app.add_exception_handler(crypto.InvalidAddress, bad_address)


def _add_wallet_routes(app: FastAPI, devnet: Devnet) -> None:
    """java-tron's HTTP API (the handlers of `wallet.py`), visible or not as the request says."""

    def route(path: str, handler: wallet.Handler) -> None:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                values = await params.read(request)
                async with devnet.lock:
                    result = handler(devnet.chain, values)
            except params.JavaError as exc:
                return JSONResponse({"Error": exc.text})
            except crypto.InvalidAddress as exc:
                return JSONResponse({"Error": f"class {params.ILLEGAL_ARGUMENT} : {exc}"})
            return JSONResponse(views.visible(result) if params.is_visible(values) else result)

        app.add_api_route(path, endpoint, methods=["GET", "POST"], include_in_schema=False)

    for path, handler in wallet.ROUTES.items():
        route(path, handler)


def _add_trongrid_routes(app: FastAPI, devnet: Devnet) -> None:
    chain_of = devnet.chain
    _add_wallet_routes(app, devnet)

    @app.get("/v1/accounts/{address}", include_in_schema=False)
    async def v1_account(address: str) -> JSONResponse:
        if not crypto.is_address(address):
            return _v1_error(f"invalid address {address}")
        async with devnet.lock:
            account = chain_of.account(address)
            data = [views.account_json(chain_of, account)] if account else []
        return _v1_list(data)

    async def v1_page(
        request: Request, read: Callable[[], tuple[list[Any], str | None]]
    ) -> JSONResponse:
        """A TronGrid v1 page from `read`, run under the lock (DevnetError or ValueError: a bad
        query, said in TronGrid's error shape)."""
        async with devnet.lock:
            try:
                data, fingerprint = read()
            except (DevnetError, ValueError) as exc:
                return _v1_error(str(exc))
        return _v1_page(request, data, fingerprint)

    @app.get("/v1/contracts/{contract}/events", include_in_schema=False)
    async def v1_events(request: Request, contract: str) -> JSONResponse:
        q = request.query_params
        if not crypto.is_address(contract):
            return _v1_error(f"invalid contract address {contract}")
        return await v1_page(
            request,
            lambda: chain_of.events(
                contract,
                event_name=q.get("event_name") or None,
                block_number=_v1_int(q, "block_number"),
                **_v1_window(q, "min_block_timestamp", "max_block_timestamp"),
            ),
        )

    @app.get("/v1/accounts/{address}/transactions/trc20", include_in_schema=False)
    async def v1_trc20_history(request: Request, address: str) -> JSONResponse:
        q = request.query_params
        if not crypto.is_address(address):
            return _v1_error(f"invalid address {address}")
        contract = q.get("contract_address") or None
        if contract and not crypto.is_address(contract):
            return _v1_error(f"invalid contract_address {contract}")
        return await v1_page(
            request,
            lambda: chain_of.trc20_history(
                address,
                contract=contract,
                only_to=_flag(q, "only_to"),
                only_from=_flag(q, "only_from"),
                **_v1_window(q, "min_timestamp", "max_timestamp"),
            ),
        )

    @app.get("/v1/transactions/{txid}/events", include_in_schema=False)
    async def v1_transaction_events(txid: str) -> JSONResponse:
        async with devnet.lock:
            data = chain_of.events_of(txid=txid)
        return _v1_list(data)

    @app.get("/v1/blocks/{number}/events", include_in_schema=False)
    async def v1_block_events(number: str) -> JSONResponse:
        async with devnet.lock:
            if number == "latest":
                block_number = chain_of.head.number
            elif number.isdigit():
                block_number = int(number)
            else:
                return _v1_error(f"invalid block number {number}")
            data = chain_of.events_of(block_number=block_number)
        return _v1_list(data)

    @app.get("/healthcheck", include_in_schema=False)
    async def healthcheck() -> JSONResponse:
        """The event server's health check (TronWeb's isConnected reads any 2xx as up)."""
        return JSONResponse({"status": "OK"})


def _v1_list(data: list[Any]) -> JSONResponse:
    """TronGrid v1's answer for a list that has no paging."""
    return JSONResponse(
        {"data": data, "success": True, "meta": {"at": _ms(), "page_size": len(data)}}
    )


def _flag(q: Any, name: str) -> bool:
    return str(q.get(name, "")).lower() == "true"


def _v1_int(q: Any, name: str) -> int | None:
    try:
        return int(q[name]) if q.get(name) else None
    except ValueError:
        raise ValueError("limit, block_number and timestamps must be integers") from None


def _v1_window(q: Any, min_key: str, max_key: str) -> dict[str, Any]:
    """TronGrid v1's paging and filter parameters (ValueError says what is wrong)."""
    given = _v1_int(q, "limit")
    limit = DEFAULT_V1_PAGE if given is None else min(given, MAX_EVENTS_PAGE)
    if limit < 1:
        raise ValueError("limit must be at least 1")
    order = q.get("order_by", "block_timestamp,desc")
    if order not in ("block_timestamp,desc", "block_timestamp,asc"):
        raise ValueError("order_by must be block_timestamp,desc or block_timestamp,asc")
    return {
        "only_confirmed": _flag(q, "only_confirmed"),
        "only_unconfirmed": _flag(q, "only_unconfirmed"),
        "min_timestamp": _v1_int(q, min_key),
        "max_timestamp": _v1_int(q, max_key),
        "ascending": order.endswith(",asc"),
        "limit": limit,
        "fingerprint": q.get("fingerprint") or None,
    }


def _v1_page(request: Request, data: list[Any], fingerprint: str | None) -> JSONResponse:
    """TronGrid v1's page: data, success and meta (with the next page's link when there is one)."""
    meta: dict[str, Any] = {"at": _ms(), "page_size": len(data)}
    if fingerprint:
        query = dict(request.query_params)
        query["fingerprint"] = fingerprint
        meta["fingerprint"] = fingerprint
        meta["links"] = {"next": str(request.url.replace_query_params(**query))}
    return JSONResponse({"data": data, "success": True, "meta": meta})


def _v1_error(message: str) -> JSONResponse:
    return JSONResponse({"success": False, "error": message, "statusCode": 400}, 400)


def _ms() -> int:
    return time.time_ns() // 1_000_000


# --- control API ------------------------------------------------------------------------------


class PayIn(BaseModel):
    to: str
    amount: int = Field(gt=0, description="USDT in micro-units (6 decimals)")
    from_: str | None = Field(default=None, alias="from", description="a built-in customer")


class PaymentIn(BaseModel):
    to: str
    amount: int = Field(gt=0, description="USDT in micro-units (6 decimals)")


class PayBatchIn(BaseModel):
    payments: list[PaymentIn] = Field(min_length=1, max_length=5_000)
    from_: str | None = Field(default=None, alias="from", description="a built-in customer")


class FaucetIn(BaseModel):
    address: str
    trx: int | None = Field(default=None, ge=0, description="TRX in sun")
    usdt: int | None = Field(default=None, ge=0, description="USDT in micro-units")


class MineIn(BaseModel):
    blocks: int = Field(default=1, ge=1, le=10_000)


class ReorgIn(BaseModel):
    depth: int = Field(ge=1)
    reinclude: bool = False


DEFAULT_FAUCET_TRX = 1_000 * 1_000_000  # 1,000 TRX when the request names no amount


def _blocks_out(blocks: list[Any]) -> list[dict[str, Any]]:
    return [
        {"number": b.number, "block_id": b.block_id, "transactions": len(b.txs)} for b in blocks
    ]


def _add_control_routes(app: FastAPI, devnet: Devnet) -> None:
    chain = devnet.chain

    @app.post("/pay")
    async def pay(body: PayIn) -> dict[str, Any]:
        """Pay `amount` micro-USDT to `to` from a built-in customer (a real signed transfer)."""
        async with devnet.lock:
            txid = chain.pay(body.to, body.amount, body.from_)
        return {"tx_hash": txid}

    @app.post("/pay-batch")
    async def pay_batch(body: PayBatchIn) -> dict[str, Any]:
        """Many payments at once (load for benchmarks), each a real signed transfer into the
        next block. A failing payment stops the batch; those before it stay pending."""
        async with devnet.lock:
            txids = [chain.pay(p.to, p.amount, body.from_) for p in body.payments]
        return {"tx_hashes": txids}

    @app.post("/faucet")
    async def faucet(body: FaucetIn) -> dict[str, Any]:
        """Send TRX (sun) and USDT (micro-units) from the treasury; 1,000 TRX by default."""
        trx = body.trx
        if trx is None and body.usdt is None:
            trx = DEFAULT_FAUCET_TRX
        async with devnet.lock:
            txids = chain.faucet(body.address, trx=trx or 0, usdt=body.usdt or 0)
        return {"tx_hashes": txids}

    @app.post("/mine")
    async def mine(body: MineIn) -> dict[str, Any]:
        async with devnet.lock:
            blocks = chain.mine(body.blocks)
            return {"blocks": _blocks_out(blocks), "head": chain.head.number}

    @app.post("/reorg")
    async def reorg(body: ReorgIn) -> dict[str, Any]:
        """Replace the last `depth` unsolidified blocks (transactions vanish unless reinclude)."""
        async with devnet.lock:
            blocks = chain.reorg(body.depth, reinclude=body.reinclude)
            return {"blocks": _blocks_out(blocks), "head": chain.head.number}

    @app.get("/state")
    async def state() -> dict[str, Any]:
        async with devnet.lock:
            return views.summary(chain)
