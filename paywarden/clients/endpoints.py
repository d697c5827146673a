"""The client API (`/api/botcartd/...`): what the bot, the Mini App and web users call.

Who is calling is resolved in paywarden/clients/auth.py; every changing call refuses a banned
client (403 `CLIENT_BANNED`) before doing anything.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from paywarden.card_transactions.schemas import Code3dsOut
from paywarden.cards.schemas import CardOut
from paywarden.client_ledger import service as client_ledger
from paywarden.client_state import service as client_state
from paywarden.clients import service as clients
from paywarden.clients import sessions
from paywarden.clients.auth import BotOnly, CurrentClient, StateReader, TelegramCaller
from paywarden.clients.schemas import (
    CatalogOut,
    CatalogPlanOut,
    ClientOut,
    ClientPlanOut,
    ClientUpsertIn,
    ConversionOut,
    ConvertIn,
    LedgerLineOut,
    LedgerPage,
    PlanSelectIn,
    StateOut,
    SubscriptionOut,
    SupportOut,
    TopupIn,
    TopupOut,
    rate_out,
    wallet_out,
)
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.openapi import ERROR_REF, error_response
from paywarden.kit.pagination import PageQuery
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.schemas import Ok
from paywarden.plans import service as plans
from paywarden.plans.amounts import RATE_DECIMALS, format_cents, format_rate
from paywarden.subscriptions import service as subscriptions
from paywarden.topups import service as topups
from paywarden.wallets import conversion
from paywarden.web_users.schemas import SignedInOut
from paywarden.web_users.tokens import COOKIE_NAME, cookie_options


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


# Every route: who is calling (401 UNAUTHORIZED, INIT_DATA_INVALID, INIT_DATA_EXPIRED), a banned
# client's change (403 CLIENT_BANNED), a client the bot names that does not exist (404), too many
# failed credentials from one address (429).
router = APIRouter(
    prefix="/api/botcartd",
    route_class=DbRoute,
    tags=["client API"],
    responses={
        401: _error("No or wrong credentials: UNAUTHORIZED, INIT_DATA_INVALID, INIT_DATA_EXPIRED"),
        403: _error("CLIENT_BANNED (a banned client reads only), PLAN_NOT_SELECTABLE"),
        404: _error("The client (or plan) named does not exist (NOT_FOUND)"),
        429: error_response(429),
    },
)
PAYMENT_REQUIRED: dict[int | str, dict[str, Any]] = {
    402: _error("Not enough available balance (INSUFFICIENT_FUNDS)")
}

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post("/clients", response_model=ClientOut, dependencies=[BotOnly])
async def upsert_client(body: ClientUpsertIn, db: Session) -> ClientOut:
    """X-Bot-Token only: create the client on first sight, else refresh the given profile
    fields; a new client starts on the default plan."""
    client = await clients.upsert_client(
        db,
        body.external_user_id,
        display_name=body.display_name,
        username=body.username,
        language=body.language,
    )
    await client_state.ensure_plan(db, client)
    return ClientOut.of(client)


@router.post("/session", response_model=SignedInOut)
async def open_session(
    caller: TelegramCaller, request: Request, response: Response, db: Session
) -> SignedInOut:
    """A Mini App's sign-in: its `X-Telegram-Init-Data`, checked as on every call (same
    errors, same failure limit), exchanged once for the `client_token` cookie (httpOnly,
    SameSite=Lax, Secure in production, 7 days, audience `paywarden-miniapp`), so the client
    app's pages and forms go on without the header. A banned client signs in to read."""
    opened = await sessions.open_session(db, request.app.state.web_users.signing_key, caller.client)
    response.set_cookie(
        COOKIE_NAME,
        opened.token,
        max_age=int(sessions.SESSION_TTL.total_seconds()),
        **cookie_options(request.app.state.settings.is_production),
    )
    return SignedInOut(client_id=caller.client.id, external_user_id=caller.client.external_user_id)


@router.delete("/session", response_model=Ok)
async def close_session(request: Request, response: Response, db: Session) -> Ok:
    """Ends the Mini App session the cookie names (if it is one) and clears the cookie."""
    await sessions.close_session(
        db, request.app.state.web_users.signing_key, request.cookies.get(COOKIE_NAME)
    )
    response.delete_cookie(COOKIE_NAME, **cookie_options(request.app.state.settings.is_production))
    return Ok()


@router.get("/state", response_model=StateOut)
async def get_state(caller: StateReader, db: Session) -> StateOut:
    """Everything the client's app shows. Operators may read any client's state with
    `?externalUserId=` and their console session."""
    if caller.via != "operator":  # an operator's look changes nothing
        await client_state.ensure_plan(db, caller.client)
    s = await client_state.build(db, caller.client)
    return StateOut(
        client=ClientOut.of(s.client),
        plan=ClientPlanOut.of(s.plan) if s.plan else None,
        subscription=SubscriptionOut.of(s.subscription),
        wallets={c: wallet_out(w.balance, w.reserved) for c, w in s.wallets.items()},
        cards=[CardOut.of(c) for c in s.cards],
        ledger=[LedgerLineOut.of(p, t) for p, t in s.ledger],
        codes_3ds=[Code3dsOut.of(c) for c in s.codes_3ds],
        fx_rate=rate_out(s.fx_rate_micros),
        support=SupportOut(
            contact=s.support.contact,
            working_hours=s.support.working_hours,
            average_reply_time=s.support.average_reply_time,
        ),
    )


@router.get("/plans", response_model=CatalogOut)
async def catalog(caller: CurrentClient, db: Session) -> CatalogOut:
    """The home catalog (hidden and archived plans left out), the caller's plan marked."""
    current = caller.client.plan_id
    shown = await plans.home_catalog(db)
    return CatalogOut(
        data=[CatalogPlanOut.mark(p, current) for p in shown], current_plan_id=current
    )


@router.post("/plan/select", response_model=SubscriptionOut, responses=PAYMENT_REQUIRED)
async def select_plan(body: PlanSelectIn, caller: CurrentClient, db: Session) -> SubscriptionOut:
    """Switch to a plan of the catalog, paying its monthly fee (403 `PLAN_NOT_SELECTABLE` for
    a hidden or archived plan, 402 `INSUFFICIENT_FUNDS` when neither wallet can pay, 409
    `FX_RATE_NOT_SET` when only the USD wallet could and operators set no EUR/USD rate)."""
    client = clients.ensure_can_change(caller.client)
    await subscriptions.select_plan(db, client, body.plan_id)
    return SubscriptionOut.of(await subscriptions.summary(db, client))


@router.post("/topups", status_code=status.HTTP_201_CREATED, response_model=TopupOut)
async def create_topup(
    body: TopupIn, caller: CurrentClient, request: Request, db: Session
) -> TopupOut:
    """A USDT top-up: pay `amount` to `address` before `expires_at`; the USD wallet is credited
    once the payment is confirmed on chain."""
    client = clients.ensure_can_change(caller.client)
    made = await topups.create(
        db,
        request.app.state.gateway,
        client,
        body.amount_units,
        base_url=request.app.state.settings.public_base_url,
    )
    return TopupOut.of(made)


@router.post(
    "/convert",
    response_model=ConversionOut,
    responses={
        **PAYMENT_REQUIRED,
        409: _error("FX_RATE_NOT_SET, IDEMPOTENCY_KEY_REUSED (the key named another request)"),
    },
)
async def convert(
    body: ConvertIn,
    caller: CurrentClient,
    db: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ConversionOut:
    """Move `amount` (in `from`) between the EUR and USD wallets at the operators' rate, less
    the plan's FX fee. A repeated `Idempotency-Key` (per client) with the same body answers
    the first conversion again (its figures, header `Idempotent-Replayed: true`) and moves
    nothing; with another body it is 409 `IDEMPOTENCY_KEY_REUSED`."""
    client = clients.ensure_can_change(caller.client)
    if body.from_ == body.to:
        raise ValidationFailed("from and to must differ")
    done = await conversion.convert(
        db, client, body.from_, body.to, body.amount, idempotency_key=idempotency_key
    )
    if done.entry.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ConversionOut(
        from_=done.from_currency,
        to=done.to_currency,
        debited=format_cents(done.debited),
        credited=format_cents(done.credited),
        fee=format_cents(done.fee),
        rate=format_rate(int(done.rate.scaleb(RATE_DECIMALS))),
        transaction_id=done.entry.id,
    )


@router.get("/transactions", response_model=LedgerPage)
async def transactions(
    q: Annotated[PageQuery, Query()], caller: CurrentClient, db: Session
) -> LedgerPage:
    """The client's wallet lines, newest first."""
    page = await client_ledger.lines(db, caller.client.id, q)
    return LedgerPage(
        data=[LedgerLineOut.of(p, t) for p, t in page.items], pagination=page.pagination()
    )
