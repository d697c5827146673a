"""The gateway's one TronGrid client: the same code talks to mainnet, nile, shasta and the devnet.

- Base URLs are tried in order: a URL that fails (connection error, timeout, 429 or 5xx) is
  skipped for `cooldown` seconds and the next one is asked at once. When every URL has failed,
  the client waits (exponential backoff with jitter, or the server's Retry-After) and starts
  another round, at most `max_rounds` rounds.
- A refused call is a `TronGridError` carrying the HTTP status and body: an HTTP 4xx, java-tron's
  HTTP-200 `{"Error": ...}`, TronGrid v1's `{"success": false}`, and a broadcast answered with a
  `code` (then `code` and the decoded `message` are set too).
- Methods return TronGrid's own JSON (dicts, documented per method) except where a small
  dataclass makes the caller's life simpler (`Block`, `EventPage`, `BroadcastResult`).

Amounts are integers: sun for TRX, the token's base units for TRC-20.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from paywarden.kit import tls
from paywarden.kit.logging import get_logger

log = get_logger(__name__)

API_KEY_HEADER = "TRON-PRO-API-KEY"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class TronGridError(Exception):
    """A TronGrid call that failed or was refused."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        url: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body
        self.url = url
        self.code = code  # a broadcast's java-tron code (SIGERROR, DUP_TRANSACTION_ERROR, ...)

    def __str__(self) -> str:
        where = f" ({self.status} from {self.url})" if self.status is not None else ""
        return f"{self.message}{where}"


@dataclass(frozen=True)
class Block:
    """A block: the fields the gateway reads, and TronGrid's JSON in `raw`."""

    number: int
    block_id: str
    timestamp: int  # ms
    parent_hash: str
    txids: list[str]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        header = data["block_header"]["raw_data"]
        return cls(
            number=int(header.get("number", 0)),  # java-tron omits zero values (the genesis)
            block_id=data["blockID"],
            timestamp=int(header.get("timestamp", 0)),
            parent_hash=header.get("parentHash", ""),
            txids=[tx["txID"] for tx in data.get("transactions", [])],
            raw=data,
        )


@dataclass(frozen=True)
class EventPage:
    """One page of /v1/contracts/{contract}/events: TronGrid's event dicts, as it sends them.

    Each event has transaction_id, event_index, block_number, block_timestamp, contract_address
    (base58), event_name and result {from, to, value} with addresses as "0x" + 20-byte hex and
    value a decimal string. `fingerprint` asks for the next page; None on the last one.
    """

    events: list[dict[str, Any]]
    fingerprint: str | None


@dataclass(frozen=True)
class BroadcastResult:
    txid: str
    raw: dict[str, Any] = field(repr=False)


class TronGridClient:
    def __init__(
        self,
        base_urls: Sequence[str] | str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_rounds: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        cooldown: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("TronGridClient needs at least one base URL")
        if max_rounds < 1:
            raise ValueError("max_rounds must be at least 1")
        self.base_urls = [u.rstrip("/") for u in urls]
        self.max_rounds = max_rounds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.cooldown = cooldown
        self._down_until = [0.0] * len(self.base_urls)
        headers = {"Accept": "application/json"}
        if api_key:
            headers[API_KEY_HEADER] = api_key
        self._http = httpx.AsyncClient(
            headers=headers, timeout=timeout, transport=transport, verify=tls.client_context()
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> TronGridClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # --- transport ---

    def _order(self) -> list[int]:
        """URL indexes to try: healthy ones in the configured order, then those cooling down."""
        now = time.monotonic()
        indexes = range(len(self.base_urls))
        healthy = [i for i in indexes if self._down_until[i] <= now]
        return healthy + [i for i in indexes if self._down_until[i] > now]

    def _delay(self, round_: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        ceiling = min(self.backoff_max, self.backoff_base * 2**round_)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrets

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        array: bool = False,
    ) -> Any:
        last: TronGridError | None = None
        for round_ in range(self.max_rounds):
            retry_after: float | None = None
            for index in self._order():
                url = self.base_urls[index] + path
                try:
                    response = await self._http.request(method, url, json=json, params=params)
                except httpx.TransportError as exc:  # connection refused, reset, timeout
                    last = TronGridError(f"{type(exc).__name__}: {exc}", url=url)
                    self._mark_down(index, url, last)
                    continue
                if response.status_code in RETRY_STATUSES:
                    last = TronGridError(
                        f"TronGrid answered {response.status_code}",
                        status=response.status_code,
                        body=_body(response),
                        url=url,
                    )
                    retry_after = _retry_after(response) or retry_after
                    self._mark_down(index, url, last)
                    continue
                self._down_until[index] = 0.0
                return _checked(response, url, array=array)
            if round_ + 1 < self.max_rounds:
                await asyncio.sleep(self._delay(round_, retry_after))
        assert last is not None
        raise last

    def _mark_down(self, index: int, url: str, error: TronGridError) -> None:
        if len(self.base_urls) > 1:
            self._down_until[index] = time.monotonic() + self.cooldown
        log.warning("trongrid_failed", url=url, status=error.status, error=error.message)

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self._request("POST", path, json=body or {})

    # --- blocks ---

    async def now_block(self) -> Block:
        """The head block (/wallet/getnowblock)."""
        return Block.from_json(await self._post("/wallet/getnowblock"))

    async def solidified_block(self) -> Block:
        """The latest solidified (irreversible) block (/walletsolidity/getnowblock)."""
        return Block.from_json(await self._post("/walletsolidity/getnowblock"))

    async def block_by_num(self, number: int) -> Block | None:
        """Block `number` (/wallet/getblockbynum); None when the chain has no such block yet."""
        data = await self._post("/wallet/getblockbynum", {"num": number})
        return Block.from_json(data) if data else None

    # --- events and accounts ---

    async def transfer_events(
        self,
        contract: str,
        *,
        block_number: int | None = None,
        only_confirmed: bool | None = None,
        limit: int = 200,
        fingerprint: str | None = None,
        min_block_timestamp: int | None = None,
        order_by: str | None = None,
    ) -> EventPage:
        """A page of the contract's Transfer events (/v1/contracts/{contract}/events).

        TronGrid's default order is newest first; pass order_by="block_timestamp,asc" to walk
        forward. Keep every other argument the same when following `fingerprint`.
        """
        params: dict[str, Any] = {"event_name": "Transfer", "limit": limit}
        if block_number is not None:
            params["block_number"] = block_number
        if only_confirmed is not None:
            params["only_confirmed"] = "true" if only_confirmed else "false"
        if fingerprint:
            params["fingerprint"] = fingerprint
        if min_block_timestamp is not None:
            params["min_block_timestamp"] = min_block_timestamp
        if order_by:
            params["order_by"] = order_by
        data = await self._request("GET", f"/v1/contracts/{contract}/events", params=params)
        meta = data.get("meta") or {}
        return EventPage(list(data.get("data") or []), meta.get("fingerprint") or None)

    async def account(self, address: str) -> dict[str, Any] | None:
        """TronGrid's account object (/v1/accounts/{address}); None if never activated.

        `balance` (sun) is absent when zero; `trc20` is a list of {contract: "amount"}.
        """
        data = await self._request("GET", f"/v1/accounts/{address}")
        items = data.get("data") or []
        return items[0] if items else None

    async def trx_balance(self, address: str) -> int:
        """An address's TRX balance in sun (0 if never activated)."""
        account = await self.account(address)
        return int(account.get("balance", 0)) if account else 0

    async def account_resource(self, address: str) -> dict[str, Any]:
        """/wallet/getaccountresource: EnergyLimit, EnergyUsed, freeNetLimit... (zeros omitted)."""
        return dict(
            await self._post("/wallet/getaccountresource", {"address": address, "visible": True})
        )

    # --- contracts and transactions ---

    async def trigger_constant_contract(
        self,
        owner_address: str,
        contract_address: str,
        function_selector: str,
        parameter: str = "",
    ) -> dict[str, Any]:
        """A read-only call or an energy estimate (/wallet/triggerconstantcontract).

        Returns java-tron's JSON: result, energy_used, constant_result (hex words).
        """
        return await self._post(
            "/wallet/triggerconstantcontract",
            {
                "owner_address": owner_address,
                "contract_address": contract_address,
                "function_selector": function_selector,
                "parameter": parameter,
                "visible": True,
            },
        )

    async def trigger_smart_contract(
        self,
        owner_address: str,
        contract_address: str,
        function_selector: str,
        parameter: str,
        *,
        fee_limit: int,
        call_value: int = 0,
    ) -> dict[str, Any]:
        """An unsigned contract call transaction (/wallet/triggersmartcontract): its JSON
        (txID, raw_data, raw_data_hex), to be signed and given to `broadcast`."""
        data = await self._post(
            "/wallet/triggersmartcontract",
            {
                "owner_address": owner_address,
                "contract_address": contract_address,
                "function_selector": function_selector,
                "parameter": parameter,
                "fee_limit": fee_limit,
                "call_value": call_value,
                "visible": True,
            },
        )
        result = data.get("result") or {}
        if not result.get("result") or "transaction" not in data:
            raise TronGridError(
                _decoded(result.get("message")) or "triggersmartcontract refused",
                status=200,
                body=data,
                code=result.get("code"),
            )
        return dict(data["transaction"])

    async def create_transaction(
        self, owner_address: str, to_address: str, amount: int
    ) -> dict[str, Any]:
        """An unsigned TRX transfer of `amount` sun (/wallet/createtransaction)."""
        return await self._post(
            "/wallet/createtransaction",
            {
                "owner_address": owner_address,
                "to_address": to_address,
                "amount": amount,
                "visible": True,
            },
        )

    async def delegate_resource(
        self,
        owner_address: str,
        receiver_address: str,
        balance: int,
        *,
        resource: str = "ENERGY",
        lock: bool = False,
    ) -> dict[str, Any]:
        """An unsigned DelegateResourceContract of `balance` sun (/wallet/delegateresource)."""
        return await self._post(
            "/wallet/delegateresource",
            {
                "owner_address": owner_address,
                "receiver_address": receiver_address,
                "balance": balance,
                "resource": resource,
                "lock": lock,
                "visible": True,
            },
        )

    async def undelegate_resource(
        self,
        owner_address: str,
        receiver_address: str,
        balance: int,
        *,
        resource: str = "ENERGY",
    ) -> dict[str, Any]:
        """An unsigned UnDelegateResourceContract (/wallet/undelegateresource)."""
        return await self._post(
            "/wallet/undelegateresource",
            {
                "owner_address": owner_address,
                "receiver_address": receiver_address,
                "balance": balance,
                "resource": resource,
                "visible": True,
            },
        )

    async def broadcast(self, signed_tx: dict[str, Any]) -> BroadcastResult:
        """Broadcast a signed transaction (/wallet/broadcasttransaction).

        A refusal raises TronGridError with `code` (SIGERROR, CONTRACT_VALIDATE_ERROR,
        BANDWITH_ERROR, DUP_TRANSACTION_ERROR, TAPOS_ERROR, TRANSACTION_EXPIRATION_ERROR...)
        and the decoded message. DUP_TRANSACTION_ERROR after a retried call can mean that the
        first attempt got through: look the txid up before treating it as a failure.
        """
        data = await self._post("/wallet/broadcasttransaction", signed_tx)
        if data.get("result") is True:
            return BroadcastResult(str(data.get("txid") or signed_tx.get("txID")), data)
        raise TronGridError(
            _decoded(data.get("message")) or "broadcast refused",
            status=200,
            body=data,
            code=data.get("code") or "UNKNOWN",
        )

    async def transaction_info(self, txid: str, *, solidified: bool) -> dict[str, Any] | None:
        """java-tron's TransactionInfo (fee, blockNumber, receipt, log, result...); None when
        not (yet) in a block, or not yet solidified when `solidified`."""
        root = "/walletsolidity" if solidified else "/wallet"
        data = await self._post(f"{root}/gettransactioninfobyid", {"value": txid})
        return data or None

    async def transaction_infos_by_block(self, number: int) -> list[dict[str, Any]]:
        """Every TransactionInfo of block `number` with its event logs, in block order
        (/wallet/gettransactioninfobyblocknum): one call per block, however many transfers.

        java-tron answers a JSON array (`[]`, or `{}` on some versions, for an empty block).
        """
        data = await self._request(
            "POST", "/wallet/gettransactioninfobyblocknum", json={"num": number}, array=True
        )
        return list(data) if isinstance(data, list) else []

    async def chain_parameters(self) -> dict[str, int]:
        """/wallet/getchainparameters as {key: value} (java-tron omits zero values: 0 here)."""
        data = await self._post("/wallet/getchainparameters")
        return {p["key"]: int(p.get("value", 0)) for p in data.get("chainParameter", [])}


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: use our own backoff


def _decoded(message: object) -> str:
    """java-tron hex-encodes messages in non-visible mode; show text either way."""
    if not isinstance(message, str):
        return ""
    try:
        return bytes.fromhex(message).decode()
    except ValueError:
        return message


def _checked(response: httpx.Response, url: str, *, array: bool = False) -> Any:
    body = _body(response)
    if response.status_code >= 400:
        message = body.get("error") if isinstance(body, dict) else None
        raise TronGridError(
            str(message or f"TronGrid answered {response.status_code}"),
            status=response.status_code,
            body=body,
            url=url,
        )
    if array and isinstance(body, list):
        return body
    if not isinstance(body, dict):
        raise TronGridError("TronGrid sent a body that is not a JSON object", status=200, url=url)
    if "Error" in body:  # java-tron refuses with HTTP 200
        raise TronGridError(str(body["Error"]), status=response.status_code, body=body, url=url)
    if body.get("success") is False:
        raise TronGridError(str(body.get("error")), status=response.status_code, body=body, url=url)
    return body
