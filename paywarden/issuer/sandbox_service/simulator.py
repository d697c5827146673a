"""What the sandbox issuer sends: authorization requests and webhooks, signed, over HTTP.

A purchase is decided synchronously (the authorization round trip happens inside the
simulate call); an approved one settles after `settle_seconds` from an asyncio task. Every
event sent is kept so that `duplicate` can send the very same bytes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from paywarden.issuer import signing
from paywarden.issuer.sandbox import APPROVED_CODE, DECLINE_CODES, decline_reason, from_cents
from paywarden.issuer.sandbox_service.state import (
    Card,
    SandboxError,
    SandboxState,
    SentEvent,
    Transaction,
    new_id,
)
from paywarden.kit import tls
from paywarden.kit.logging import get_logger

log = get_logger(__name__)

PROVIDER = "sandbox"  # our inbound routes' path segment for this issuer
OTP_TTL = timedelta(minutes=5)
CLOSED_CARD_CODE = "14"
STAND_IN_CODE = "91"  # the program manager did not answer: the issuer declines on its behalf
THREE_DS_FAILED_CODE = "1A"
PROGRAM_SHORT_CODE = "51"
MerchantInfo = dict[str, str | None]  # name, mcc, country of a simulated purchase
# True: an OTP is sent; "fail": sent, then the check fails; "wait": sent, and the purchase
# waits for the shopper to type it (`authenticate`).
ThreeDs = bool | str | None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Outcome:
    transaction: Transaction
    events: list[str] = field(default_factory=list)

    def render(self) -> dict[str, Any]:
        tx = self.transaction
        approved = tx.response_code == APPROVED_CODE
        undecided = tx.response_code is None  # still authenticating: no decline to name
        return {
            "transaction_id": tx.id,
            "approved": approved,
            "decline_reason": None if approved or undecided else decline_reason(tx.response_code),
            "response_code": tx.response_code,
            "status": tx.status,
            "events": self.events,
        }


class Simulator:
    def __init__(
        self,
        state: SandboxState,
        *,
        secret: str,
        callback_url: str,
        settle_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.state = state
        self.secret = secret
        self.callback_url = callback_url.rstrip("/")
        self.settle_seconds = settle_seconds
        self.lock = asyncio.Lock()  # state changes; never held across an HTTP call
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._timers: dict[str, asyncio.Task[None]] = {}

    @property
    def http(self) -> httpx.AsyncClient:
        # Made on first use, inside the serving event loop.
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=10.0, transport=self._transport, verify=tls.client_context()
            )
        return self._http

    async def aclose(self) -> None:
        for task in self._timers.values():
            task.cancel()
        for task in list(self._timers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._timers.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- sending -------------------------------------------------------------------------------

    def _signed(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            **signing.sign([self.secret], body, int(time.time())),
        }

    async def _deliver(self, event: SentEvent) -> str:
        url = f"{self.callback_url}/api/v1/issuer/{PROVIDER}/webhooks"
        try:
            response = await self.http.post(
                url, content=event.body, headers=self._signed(event.body)
            )
            outcome = str(response.status_code)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        event.deliveries.append(outcome)
        log.info("sandbox_event_sent", event_id=event.id, type=event.type, outcome=outcome)
        return outcome

    async def send_event(self, raw_type: str, data: dict[str, Any]) -> SentEvent:
        event_id = new_id("evt")
        payload = {
            "id": event_id,
            "type": raw_type,
            "created_at": _iso(datetime.now(UTC)),
            "data": data,
        }
        event = SentEvent(event_id, raw_type, json.dumps(payload, separators=(",", ":")).encode())
        self.state.events[event_id] = event
        await self._deliver(event)
        return event

    async def duplicate(self, event_id: str) -> SentEvent:
        event = self.state.events.get(event_id)
        if event is None:
            raise SandboxError(404, "EVENT_NOT_FOUND", "no such event")
        await self._deliver(event)  # the same bytes, freshly signed
        return event

    async def _ask(self, tx: Transaction, card: Card) -> str:
        """Our program manager's answer to an authorization request, as a response code."""
        body = json.dumps(
            {
                "id": new_id("authreq"),
                "transaction_id": tx.id,
                "card_id": card.id,
                "card_reference": card.reference,
                "billing_amount": from_cents(tx.amount),
                "billing_currency": tx.currency,
                "transaction_amount": from_cents(tx.merchant_amount),
                "transaction_currency": tx.merchant_currency,
                "merchant": tx.merchant,
                "three_ds_authenticated": tx.three_ds is True or tx.authenticated,
                "created_at": _iso(tx.created_at),
            },
            separators=(",", ":"),
        ).encode()
        url = f"{self.callback_url}/api/v1/issuer/{PROVIDER}/authorize"
        try:
            response = await self.http.post(url, content=body, headers=self._signed(body))
        except httpx.HTTPError as exc:
            log.warning("sandbox_authorize_failed", transaction_id=tx.id, error=type(exc).__name__)
            return STAND_IN_CODE
        if response.status_code != 200:
            log.warning(
                "sandbox_authorize_refused", transaction_id=tx.id, status=response.status_code
            )
            return STAND_IN_CODE
        try:
            answer = response.json()
        except ValueError:
            return STAND_IN_CODE
        if not isinstance(answer, dict):
            return STAND_IN_CODE
        code = answer.get("response_code")
        if answer.get("approved") is True and code in (None, APPROVED_CODE):
            return APPROVED_CODE
        return code if isinstance(code, str) and code in DECLINE_CODES else "05"

    def _tx_data(self, tx: Transaction, **extra: Any) -> dict[str, Any]:
        return {
            "transaction_id": tx.id,
            "card_id": tx.card_id,
            "amount": from_cents(tx.amount),
            "currency": tx.currency,
            "transaction_amount": from_cents(tx.merchant_amount),
            "transaction_currency": tx.merchant_currency,
            "merchant": tx.merchant,
            **extra,
        }

    # --- the simulator's actions ---------------------------------------------------------------

    async def purchase(
        self,
        card_id: str,
        *,
        amount: int,
        currency: str,
        merchant: MerchantInfo,
        three_ds: ThreeDs,
    ) -> Outcome:
        async with self.lock:
            card, tx = self._open(card_id, amount, currency, merchant, three_ds)
        outcome = Outcome(tx)
        if card.status == "CLOSED":  # a closed card is the issuer's to decline: nobody is asked
            await self._issuer_decline(outcome, CLOSED_CARD_CODE)
            return outcome
        if three_ds in (True, "fail", "wait"):
            await self._send_otp(outcome, wait=three_ds == "wait")
            if three_ds == "wait":  # the shopper types the code: `authenticate` goes on
                return outcome
            if three_ds == "fail":
                await self._issuer_decline(outcome, THREE_DS_FAILED_CODE)
                return outcome
        return await self._authorize(outcome, card)

    async def authenticate(self, transaction_id: str, otp: str) -> Outcome:
        """The shopper types the code of a waiting purchase (three_ds "wait"): right and in
        time, the purchase goes on as a 3-D Secure one; wrong or lapsed, it is declined."""
        async with self.lock:
            tx = self.state.transaction(transaction_id)
            passed = self.state.authenticate(tx, otp, datetime.now(UTC))
            card = self.state.card(tx.card_id)
        outcome = Outcome(tx)
        if not passed:
            await self._issuer_decline(outcome, THREE_DS_FAILED_CODE)
            return outcome
        return await self._authorize(outcome, card)

    async def _authorize(self, outcome: Outcome, card: Card) -> Outcome:
        """The authorization proper: the program balance, then our answer, then settlement."""
        tx = outcome.transaction
        if self.state.balances[tx.currency] < tx.amount:  # the program account itself is short
            await self._issuer_decline(outcome, PROGRAM_SHORT_CODE)
            return outcome
        code = await self._ask(tx, card)
        async with self.lock:
            if code == APPROVED_CODE:
                self.state.approve(tx)
            else:
                self.state.decline(tx, code)
        if code == STAND_IN_CODE:  # we may not know it was declined: say so
            await self._emit(
                outcome, "authorization.declined", self._tx_data(tx, response_code=code)
            )
        if tx.status == "approved":
            self._schedule_settlement(tx)
        return outcome

    async def out_of_order(
        self, card_id: str, *, amount: int, currency: str, merchant: MerchantInfo
    ) -> Outcome:
        """The settlement arrives before the authorization's outcome is known (a forced post)."""
        async with self.lock:
            card, tx = self._open(card_id, amount, currency, merchant, None)
            self.state.approve(tx)
            self.state.settle(tx, None)
        outcome = Outcome(tx)
        await self._emit(outcome, "transaction.cleared", self._tx_data(tx))
        code = await self._ask(tx, card)  # then the rest: the late authorization request
        tx.response_code = code  # what we answered; the issuer already cleared it
        return outcome

    async def settle(self, transaction_id: str, merchant_amount: int | None) -> Outcome:
        async with self.lock:
            tx = self.state.transaction(transaction_id)
            self.state.settle(tx, merchant_amount)
            self._cancel_timer(tx.id)
        return await self._event_outcome(tx, "transaction.cleared", self._settled_data(tx))

    async def expire(self, transaction_id: str) -> Outcome:
        return await self._release(transaction_id, "expired")

    async def reversal(self, transaction_id: str) -> Outcome:
        return await self._release(transaction_id, "reversed")

    async def refund(self, transaction_id: str, merchant_amount: int | None) -> Outcome:
        async with self.lock:
            tx = self.state.transaction(transaction_id)
            billing, merchant = self.state.refund(tx, merchant_amount)
        data = self._tx_data(tx, refund_id=new_id("rfnd"))
        data.update(
            amount=from_cents(billing),
            transaction_amount=from_cents(merchant),
        )
        return await self._event_outcome(tx, "transaction.refunded", data)

    # --- helpers -------------------------------------------------------------------------------

    def _settled_data(self, tx: Transaction) -> dict[str, Any]:
        data = self._tx_data(tx)
        data.update(
            amount=from_cents(tx.settled), transaction_amount=from_cents(tx.merchant_settled)
        )
        return data

    def _open(
        self, card_id: str, amount: int, currency: str, merchant: MerchantInfo, three_ds: ThreeDs
    ) -> tuple[Card, Transaction]:
        """The card and a purchase opened on it; the caller holds the lock."""
        card = self.state.card(card_id)
        tx = self.state.open_purchase(
            card,
            merchant_amount=amount,
            merchant_currency=currency,
            merchant=merchant,
            three_ds=three_ds,
        )
        return card, tx

    async def _release(self, transaction_id: str, status: str) -> Outcome:
        """The hold released as `status` (expired, reversed), told as `authorization.<status>`."""
        async with self.lock:
            tx = self.state.transaction(transaction_id)
            self.state.release(tx, status)
            self._cancel_timer(tx.id)
        return await self._event_outcome(tx, f"authorization.{status}", self._tx_data(tx))

    async def _emit(self, outcome: Outcome, raw_type: str, data: dict[str, Any]) -> None:
        event = await self.send_event(raw_type, data)
        outcome.events.append(event.id)

    async def _event_outcome(self, tx: Transaction, raw_type: str, data: dict[str, Any]) -> Outcome:
        outcome = Outcome(tx)
        await self._emit(outcome, raw_type, data)
        return outcome

    async def _issuer_decline(self, outcome: Outcome, code: str) -> None:
        async with self.lock:
            self.state.decline(outcome.transaction, code)
        await self._emit(
            outcome,
            "authorization.declined",
            self._tx_data(outcome.transaction, response_code=code),
        )

    async def _send_otp(self, outcome: Outcome, *, wait: bool = False) -> None:
        """The code to the cardholder; `wait`: kept until the shopper types it."""
        tx = outcome.transaction
        otp = f"{secrets.randbelow(1_000_000):06d}"
        expires_at = datetime.now(UTC) + OTP_TTL
        if wait:
            async with self.lock:
                self.state.await_otp(tx, otp, expires_at)
        data = self._tx_data(tx, otp=otp, expires_at=_iso(expires_at))
        await self._emit(outcome, "authentication.otp", data)

    def _schedule_settlement(self, tx: Transaction) -> None:
        if self.settle_seconds <= 0:  # settlement only on /simulate/settle
            return
        self._timers[tx.id] = asyncio.create_task(self._settle_later(tx.id))

    async def _settle_later(self, transaction_id: str) -> None:
        await asyncio.sleep(self.settle_seconds)
        async with self.lock:
            self._timers.pop(transaction_id, None)
            tx = self.state.transactions[transaction_id]
            if tx.status != "approved":  # reversed, expired or settled by hand meanwhile
                return
            self.state.settle(tx, None)
        try:
            await self.send_event("transaction.cleared", self._settled_data(tx))
        except Exception:  # a timer must not die silently
            log.exception("sandbox_settle_failed", transaction_id=transaction_id)

    def _cancel_timer(self, transaction_id: str) -> None:
        task = self._timers.pop(transaction_id, None)
        if task is not None:
            task.cancel()
