"""The sandbox issuer over HTTP: the issuer API our adapter calls, and the simulator.

Issuer API (header `Authorization: Bearer <ISSUER_API_KEY>`, else 401):
  POST  /v1/cards {"reference", "currency", "monthly_limit": "500.00", "label"}  (201; 200 when
        the reference exists: a retry is not a second card)
  GET   /v1/cards/{id};  POST /v1/cards/{id}/freeze|unfreeze|close;  PATCH /v1/cards/{id}
        {"monthly_limit"};  GET /v1/cards/{id}/sensitive -> {"pan", "exp_month", "exp_year", "cvv"}
  GET   /v1/balances -> {"data": [{"currency", "available"}]};  GET /v1/health
  POST  /oauth/token (form: grant_type=client_credentials, client_id, client_secret; no API key)
        -> {"access_token", ...}; a secret starting with "bad" is refused (401 invalid_client).
Simulator (open: a development and test tool), see `simulator.py`:
  POST /simulate/purchase | authenticate | out-of-order | settle | expire | reversal | refund |
  duplicate,
  GET /simulate/transactions/{id}, GET /simulate/events.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import JSONResponse
from pydantic import Field, field_validator

from paywarden.issuer.sandbox import from_cents, to_cents
from paywarden.issuer.sandbox_service.simulator import Simulator
from paywarden.issuer.sandbox_service.state import Card, SandboxError, SandboxState
from paywarden.kit.casing import RequestModel
from paywarden.kit.errors import install_error_handlers
from paywarden.kit.time import iso


class _Amount(RequestModel):
    @field_validator("amount", "monthly_limit", mode="before", check_fields=False)
    @classmethod
    def _cents(cls, value: object) -> object:
        if value is None:
            return None
        try:
            return to_cents(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from exc


class CreateCard(_Amount):
    reference: str = Field(min_length=1, max_length=100)
    currency: str
    monthly_limit: int = Field(ge=0)
    label: str | None = Field(default=None, max_length=100)


class SetLimit(_Amount):
    monthly_limit: int = Field(ge=0)


class Purchase(_Amount):
    card_id: str
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    merchant: str | None = Field(default=None, max_length=200)
    mcc: str | None = Field(default=None, pattern=r"^\d{4}$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    three_ds: bool | Literal["fail", "wait"] | None = None


class Authenticate(RequestModel):
    transaction_id: str
    otp: str = Field(min_length=1, max_length=20)


class ByTransaction(_Amount):
    transaction_id: str
    amount: int | None = Field(default=None, gt=0)


class ByEvent(RequestModel):
    event_id: str


def _card(card: Card) -> dict[str, Any]:
    return {
        "id": card.id,
        "reference": card.reference,
        "currency": card.currency,
        "monthly_limit": from_cents(card.monthly_limit),
        "label": card.label,
        "last4": card.last4,
        "status": card.status,
        "created_at": iso(card.created_at),
    }


def create_sandbox_app(
    *,
    api_key: str,
    secret: str,
    callback_url: str,
    settle_seconds: float,
    run_lifespan: bool = True,
) -> FastAPI:
    """The sandbox issuer as an ASGI app (mounted, its lifespan does not run: `mount_sandbox`)."""
    state = SandboxState()
    simulator = Simulator(
        state, secret=secret, callback_url=callback_url, settle_seconds=settle_seconds
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await simulator.aclose()

    app = FastAPI(
        title="PayWarden sandbox issuer",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan if run_lifespan else None,
    )
    app.state.sandbox = state
    app.state.simulator = simulator
    install_error_handlers(app)

    def authorized(request: Request) -> None:
        given = request.headers.get("authorization", "")
        token = given[7:] if given.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(token.encode(), api_key.encode()):
            raise SandboxError(401, "unauthorized", "a valid API key is required")

    issuer = [Depends(authorized)]

    @app.post("/v1/cards", dependencies=issuer)
    async def create_card(body: CreateCard) -> JSONResponse:
        async with simulator.lock:
            card, created = state.create_card(
                reference=body.reference,
                currency=body.currency,
                monthly_limit=body.monthly_limit,
                label=body.label,
            )
        return JSONResponse(_card(card), status_code=201 if created else 200)

    @app.get("/v1/cards/{card_id}", dependencies=issuer)
    async def get_card(card_id: str) -> dict[str, Any]:
        return _card(state.card(card_id))

    def status_route(path: str, status: str) -> None:
        async def change(card_id: str) -> dict[str, Any]:
            async with simulator.lock:
                return _card(state.set_status(card_id, status))

        app.post(f"/v1/cards/{{card_id}}/{path}", dependencies=issuer)(change)

    status_route("freeze", "FROZEN")
    status_route("unfreeze", "ACTIVE")
    status_route("close", "CLOSED")

    @app.patch("/v1/cards/{card_id}", dependencies=issuer)
    async def set_limit(card_id: str, body: SetLimit) -> dict[str, Any]:
        async with simulator.lock:
            return _card(state.set_limit(card_id, body.monthly_limit))

    @app.get("/v1/cards/{card_id}/sensitive", dependencies=issuer)
    async def sensitive(card_id: str) -> dict[str, Any]:
        card = state.card(card_id)
        return {
            "pan": card.pan,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "cvv": card.cvv,
        }

    @app.get("/v1/balances", dependencies=issuer)
    async def balances() -> dict[str, Any]:
        rows = [{"currency": c, "available": from_cents(v)} for c, v in state.balances.items()]
        return {"data": rows}

    @app.get("/v1/health", dependencies=issuer)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/oauth/token")
    async def token(
        grant_type: Annotated[str, Form()] = "",
        client_id: Annotated[str, Form()] = "",
        client_secret: Annotated[str, Form()] = "",
    ) -> JSONResponse:
        if grant_type != "client_credentials":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "use client_credentials"},
                400,
            )
        if not client_id or not client_secret or client_secret.startswith("bad"):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "client authentication failed"},
                401,
            )
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 3600,
                "account_id": f"acct_{client_id}",
            }
        )

    # --- the simulator -------------------------------------------------------------------------

    @app.post("/simulate/purchase")
    async def purchase(body: Purchase) -> dict[str, Any]:
        outcome = await simulator.purchase(
            body.card_id,
            amount=body.amount,
            currency=body.currency.upper(),
            merchant={"name": body.merchant, "mcc": body.mcc, "country": body.country},
            three_ds=body.three_ds,
        )
        return outcome.render()

    @app.post("/simulate/authenticate")
    async def authenticate(body: Authenticate) -> dict[str, Any]:
        return (await simulator.authenticate(body.transaction_id, body.otp)).render()

    @app.post("/simulate/out-of-order")
    async def out_of_order(body: Purchase) -> dict[str, Any]:
        outcome = await simulator.out_of_order(
            body.card_id,
            amount=body.amount,
            currency=body.currency.upper(),
            merchant={"name": body.merchant, "mcc": body.mcc, "country": body.country},
        )
        return outcome.render()

    @app.post("/simulate/settle")
    async def settle(body: ByTransaction) -> dict[str, Any]:
        return (await simulator.settle(body.transaction_id, body.amount)).render()

    @app.post("/simulate/expire")
    async def expire(body: ByTransaction) -> dict[str, Any]:
        return (await simulator.expire(body.transaction_id)).render()

    @app.post("/simulate/reversal")
    async def reversal(body: ByTransaction) -> dict[str, Any]:
        return (await simulator.reversal(body.transaction_id)).render()

    @app.post("/simulate/refund")
    async def refund(body: ByTransaction) -> dict[str, Any]:
        return (await simulator.refund(body.transaction_id, body.amount)).render()

    @app.post("/simulate/duplicate")
    async def duplicate(body: ByEvent) -> dict[str, Any]:
        event = await simulator.duplicate(body.event_id)
        return {"event_id": event.id, "type": event.type, "deliveries": event.deliveries}

    @app.get("/simulate/transactions/{transaction_id}")
    async def transaction(transaction_id: str) -> dict[str, Any]:
        tx = state.transaction(transaction_id)
        return {
            "transaction_id": tx.id,
            "card_id": tx.card_id,
            "status": tx.status,
            "response_code": tx.response_code,
            "amount": from_cents(tx.amount),
            "currency": tx.currency,
            "settled": from_cents(tx.settled),
            "refunded": from_cents(tx.refunded),
        }

    @app.get("/simulate/events")
    async def events() -> dict[str, Any]:
        return {
            "data": [
                {"event_id": e.id, "type": e.type, "deliveries": e.deliveries}
                for e in state.events.values()
            ]
        }

    return app


def mount_sandbox(
    app: FastAPI,
    prefix: str = "/sandbox-issuer",
    *,
    api_key: str,
    secret: str,
    callback_url: str,
    settle_seconds: float,
) -> FastAPI:
    """Mount the sandbox under `prefix`; `app`'s lifespan stops its timers and client."""
    sub = create_sandbox_app(
        api_key=api_key,
        secret=secret,
        callback_url=callback_url,
        settle_seconds=settle_seconds,
        run_lifespan=False,
    )
    simulator: Simulator = sub.state.simulator
    parent_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        try:
            async with parent_lifespan(parent) as state:
                yield state
        finally:
            await simulator.aclose()

    app.router.lifespan_context = lifespan
    app.mount(prefix, sub)
    return sub
