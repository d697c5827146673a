"""The devnet over HTTP: TronGrid's API subset with its JSON shapes, and a control API.

TronGrid paths (`/wallet/...`, `/walletsolidity/...`, `/v1/...`) answer as java-tron and
TronGrid do: HTTP 200 with `{"Error": ...}` or a `code` for a refused call, TronGrid v1's
`{"success": false, "error": ...}` for a bad query. Responses use non-visible JSON (addresses as
"41..." hex), except TronGrid v1's events and accounts, which use its own forms. Requests may
give addresses in either form.

The control API (`/pay`, `/faucet`, `/mine`, `/reorg`, `/state`) renders errors in the app's
`{"error", "code"}` shape. Mounted at `/devnet` (see `mount_devnet`) the TronGrid base URL is
`<host>/devnet` and the control API is `<host>/devnet/pay` and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from paywarden.kit.errors import error_body, install_error_handlers
from paywarden.kit.logging import get_logger
from paywarden.tron import crypto
from paywarden.tron.devnet import views
from paywarden.tron.devnet.chain import Chain, DevnetError, Rejected
from paywarden.tron.networks import network_for

log = get_logger(__name__)

DEFAULT_BLOCK_SECONDS = 3.0
DEFAULT_SOLIDIFY_DEPTH = 19
MAX_EVENTS_PAGE = 200


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


# --- request helpers ------------------------------------------------------------------------------


async def _params(request: Request) -> dict[str, Any]:
    """java-tron takes a JSON body on POST and query parameters on GET; accept both."""
    values: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body.strip():
        try:
            parsed = await request.json()
        except ValueError as exc:
            raise _JavaError("org.tron.core.exception.BadItemException", "invalid JSON") from exc
        if not isinstance(parsed, dict):
            raise _JavaError("java.lang.IllegalArgumentException", "body must be a JSON object")
        values.update(parsed)
    return values


class _JavaError(Exception):
    """Rendered as java-tron does: 200 and {"Error": "class <type> : <message>"}."""

    def __init__(self, java_type: str, message: str) -> None:
        super().__init__(message)
        self.text = f"class {java_type} : {message}"


def _address(values: dict[str, Any], name: str) -> str:
    value = values.get(name)
    if not crypto.is_address(value):
        raise _JavaError("java.lang.IllegalArgumentException", f"Invalid {name}")
    return crypto.normalize(str(value))


def _int(values: dict[str, Any], name: str, default: int | None = None) -> int:
    value = values.get(name, default)
    if isinstance(value, bool) or value is None:
        raise _JavaError("java.lang.IllegalArgumentException", f"{name} must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _JavaError(
            "java.lang.IllegalArgumentException", f"{name} must be an integer"
        ) from exc


Handler = Callable[[Devnet, dict[str, Any]], Awaitable[Any]]


def _selector_data(values: dict[str, Any]) -> str:
    """The call data: `data`, or keccak256(function_selector)[:4] + `parameter`."""
    if values.get("data"):
        return str(values["data"]).removeprefix("0x")
    selector = values.get("function_selector")
    if not isinstance(selector, str) or not selector:
        raise _JavaError("java.lang.IllegalArgumentException", "function_selector is required")
    parameter = str(values.get("parameter") or "")
    return crypto.keccak256(selector.replace(" ", "").encode())[:4].hex() + parameter


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
    return app


def mount_devnet(
    app: FastAPI,
    prefix: str = "/devnet",
    *,
    chain: Chain | None = None,
    block_seconds: float | None = DEFAULT_BLOCK_SECONDS,
    solidify_depth: int = DEFAULT_SOLIDIFY_DEPTH,
) -> FastAPI:
    """Mount the devnet under `prefix` and run its block timer in `app`'s lifespan."""
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


def _add_trongrid_routes(app: FastAPI, devnet: Devnet) -> None:
    chain_of = devnet.chain

    def route(path: str, handler: Handler) -> None:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                values = await _params(request)
                async with devnet.lock:
                    result = await handler(devnet, values)
            except _JavaError as exc:
                return JSONResponse({"Error": exc.text})
            except crypto.InvalidAddress as exc:
                return JSONResponse({"Error": f"class java.lang.IllegalArgumentException : {exc}"})
            return JSONResponse(result)

        app.add_api_route(path, endpoint, methods=["GET", "POST"], include_in_schema=False)

    async def now_block(d: Devnet, _: dict[str, Any]) -> Any:
        return views.block_json(d.chain, d.chain.head)

    async def solid_block(d: Devnet, _: dict[str, Any]) -> Any:
        return views.block_json(d.chain, d.chain.solidified)

    def by_num(solid: bool) -> Handler:
        async def handler(d: Devnet, values: dict[str, Any]) -> Any:
            block = d.chain.block(_int(values, "num"))
            if block is None or (solid and block.number > d.chain.solidified.number):
                return {}
            return views.block_json(d.chain, block)

        return handler

    def tx_info(solid: bool) -> Handler:
        async def handler(d: Devnet, values: dict[str, Any]) -> Any:
            found = d.chain.find(str(values.get("value", "")), solidified=solid)
            return views.transaction_info(d.chain, *found) if found else {}

        return handler

    def tx_infos_by_block(solid: bool) -> Handler:
        async def handler(d: Devnet, values: dict[str, Any]) -> Any:
            block = d.chain.block(_int(values, "num"))
            if block is None or (solid and block.number > d.chain.solidified.number):
                return []
            return [views.transaction_info(d.chain, block, i) for i in block.txs]

        return handler

    def tx_by_id(solid: bool) -> Handler:
        async def handler(d: Devnet, values: dict[str, Any]) -> Any:
            found = d.chain.find(str(values.get("value", "")), solidified=solid)
            if not found:
                return {}
            block, included = found
            txs = views.block_json(d.chain, block)["transactions"]
            return next(t for t in txs if t["txID"] == included.tx.txid)

        return handler

    async def chain_parameters(d: Devnet, _: dict[str, Any]) -> Any:
        return {"chainParameter": d.chain.params.chain_parameters()}

    async def broadcast(d: Devnet, values: dict[str, Any]) -> Any:
        try:
            txid = d.chain.broadcast(values)
        except Rejected as exc:
            return {
                "code": exc.code,
                "txid": str(values.get("txID", "")),
                "message": exc.message.encode().hex(),
            }
        return {"result": True, "txid": txid}

    def validate_error(exc: Rejected) -> _JavaError:
        return _JavaError("org.tron.core.exception.ContractValidateException", exc.message)

    async def create_transaction(d: Devnet, values: dict[str, Any]) -> Any:
        value = {
            "owner_address": crypto.to_hex(_address(values, "owner_address")),
            "to_address": crypto.to_hex(_address(values, "to_address")),
            "amount": _int(values, "amount"),
        }
        try:
            return d.chain.build("TransferContract", value)
        except Rejected as exc:
            raise validate_error(exc) from exc

    def delegation(contract_type: str) -> Handler:
        async def handler(d: Devnet, values: dict[str, Any]) -> Any:
            value = {
                "owner_address": crypto.to_hex(_address(values, "owner_address")),
                "receiver_address": crypto.to_hex(_address(values, "receiver_address")),
                "balance": _int(values, "balance"),
                "resource": str(values.get("resource", "BANDWIDTH")),
            }
            if contract_type == "DelegateResourceContract" and values.get("lock"):
                value["lock"] = True
                if values.get("lock_period"):
                    value["lock_period"] = _int(values, "lock_period")
            try:
                return d.chain.build(contract_type, value)
            except Rejected as exc:
                raise validate_error(exc) from exc

        return handler

    async def trigger_smart(d: Devnet, values: dict[str, Any]) -> Any:
        value: dict[str, Any] = {
            "owner_address": crypto.to_hex(_address(values, "owner_address")),
            "contract_address": crypto.to_hex(_address(values, "contract_address")),
            "data": _selector_data(values),
        }
        call_value = _int(values, "call_value", 0)
        if call_value:
            value["call_value"] = call_value
        fee_limit = _int(values, "fee_limit", 0)
        try:
            tx = d.chain.build("TriggerSmartContract", value, fee_limit=fee_limit)
        except Rejected as exc:
            return {"result": {"code": exc.code, "message": exc.message.encode().hex()}}
        return {"result": {"result": True}, "transaction": tx}

    async def trigger_constant(d: Devnet, values: dict[str, Any]) -> Any:
        owner = values.get("owner_address")
        try:
            outcome = d.chain.call(
                _address(values, "owner_address") if owner else None,
                _address(values, "contract_address"),
                _selector_data(values),
            )
        except Rejected as exc:
            return {"result": {"code": exc.code, "message": exc.message.encode().hex()}}
        if outcome["result"] != "SUCCESS":
            return {
                "result": {
                    "code": "CONTRACT_EXE_ERROR",
                    "message": b"REVERT opcode executed".hex(),
                },
                "energy_used": outcome["energy"],
                "constant_result": [""],
            }
        return {
            "result": {"result": True},
            "energy_used": outcome["energy"],
            "constant_result": [outcome["output"]],
        }

    async def account_resource(d: Devnet, values: dict[str, Any]) -> Any:
        account = d.chain.account(_address(values, "address"))
        return views.account_resource_json(d.chain, account) if account else {}

    routes: dict[str, Handler] = {
        "/wallet/getnowblock": now_block,
        "/wallet/getblockbynum": by_num(False),
        "/walletsolidity/getnowblock": solid_block,
        "/walletsolidity/getblockbynum": by_num(True),
        "/wallet/gettransactioninfobyid": tx_info(False),
        "/walletsolidity/gettransactioninfobyid": tx_info(True),
        "/wallet/gettransactioninfobyblocknum": tx_infos_by_block(False),
        "/walletsolidity/gettransactioninfobyblocknum": tx_infos_by_block(True),
        "/wallet/gettransactionbyid": tx_by_id(False),
        "/walletsolidity/gettransactionbyid": tx_by_id(True),
        "/wallet/getchainparameters": chain_parameters,
        "/wallet/broadcasttransaction": broadcast,
        "/wallet/createtransaction": create_transaction,
        "/wallet/delegateresource": delegation("DelegateResourceContract"),
        "/wallet/undelegateresource": delegation("UnDelegateResourceContract"),
        "/wallet/triggersmartcontract": trigger_smart,
        "/wallet/triggerconstantcontract": trigger_constant,
        "/wallet/getaccountresource": account_resource,
    }
    for path, handler in routes.items():
        route(path, handler)

    @app.get("/v1/accounts/{address}", include_in_schema=False)
    async def v1_account(address: str) -> JSONResponse:
        if not crypto.is_address(address):
            return _v1_error(f"invalid address {address}")
        async with devnet.lock:
            account = chain_of.account(address)
            data = [views.account_json(chain_of, account)] if account else []
        return JSONResponse(
            {"data": data, "success": True, "meta": {"at": _ms(), "page_size": len(data)}}
        )

    @app.get("/v1/contracts/{contract}/events", include_in_schema=False)
    async def v1_events(request: Request, contract: str) -> JSONResponse:
        q = request.query_params
        if not crypto.is_address(contract):
            return _v1_error(f"invalid contract address {contract}")
        try:
            limit = min(int(q.get("limit", "20")), MAX_EVENTS_PAGE)
            block_number = int(q["block_number"]) if q.get("block_number") else None
            min_ts = int(q["min_block_timestamp"]) if q.get("min_block_timestamp") else None
            max_ts = int(q["max_block_timestamp"]) if q.get("max_block_timestamp") else None
        except ValueError:
            return _v1_error("limit, block_number and timestamps must be integers")
        if limit < 1:
            return _v1_error("limit must be at least 1")
        order = q.get("order_by", "block_timestamp,desc")
        if order not in ("block_timestamp,desc", "block_timestamp,asc"):
            return _v1_error("order_by must be block_timestamp,desc or block_timestamp,asc")
        async with devnet.lock:
            try:
                data, fingerprint = chain_of.events(
                    contract,
                    event_name=q.get("event_name") or None,
                    block_number=block_number,
                    only_confirmed=q.get("only_confirmed", "").lower() == "true",
                    only_unconfirmed=q.get("only_unconfirmed", "").lower() == "true",
                    min_timestamp=min_ts,
                    max_timestamp=max_ts,
                    ascending=order.endswith(",asc"),
                    limit=limit,
                    fingerprint=q.get("fingerprint") or None,
                )
            except DevnetError as exc:
                return _v1_error(str(exc))
        meta: dict[str, Any] = {"at": _ms(), "page_size": len(data)}
        if fingerprint:
            params = dict(q)
            params["fingerprint"] = fingerprint
            meta["fingerprint"] = fingerprint
            meta["links"] = {"next": str(request.url.replace_query_params(**params))}
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
