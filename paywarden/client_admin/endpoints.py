"""Admin API for clients (`/api/v1/admin/clients...`): the list, the client page, changes.

Any operator reads and changes access, notes and the plan (support work); manual top-ups and
demo balances move money, so only a super_admin makes them.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status

from paywarden.client_admin import service
from paywarden.client_admin.filters import ClientFilter
from paywarden.client_admin.schemas import (
    AssignPlanIn,
    ClientDetail,
    ClientNotificationsOut,
    ClientPage,
    ClientPatchIn,
    ClientQuery,
    ClientRow,
    DemoBalanceIn,
    LedgerLine,
    LedgerPage,
    ManualTopupIn,
    MoneyMoveOut,
)
from paywarden.client_admin.service import MAX_IDEMPOTENCY_KEY, MoneyMove
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.pagination import PageQuery
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor, SuperAdmin
from paywarden.plans.amounts import format_cents

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: clients"])


def _move(m: MoneyMove) -> MoneyMoveOut:
    return MoneyMoveOut(
        transaction_id=m.entry.id if m.entry else None,
        kind=m.kind,
        currency=m.currency,
        amount=format_cents(m.amount),
        balance=format_cents(m.wallet.balance),
        reserved=format_cents(m.wallet.reserved),
        available=format_cents(m.wallet.available),
        replayed=bool(m.entry and m.entry.replayed),
    )


async def _detail(request: Request, db: Session, client_id: uuid.UUID) -> ClientDetail:
    tz = request.app.state.settings.tz
    return ClientDetail.of(await service.detail(db, client_id, tz))


@router.get("/clients", response_model=ClientPage)
async def list_clients(
    q: Annotated[ClientQuery, Query()], db: Session, _: CurrentOperator
) -> ClientPage:
    """Newest first; `search` matches the external id, username, display name, the email of a
    linked web user (parts of them) or the client id (exact)."""
    f = ClientFilter(search=q.search or None, status=q.status, plan_id=q.plan_id)
    page = await service.search(db, f, q)
    return ClientPage(
        data=[ClientRow.of(i.client, i.plan_name, i.email) for i in page.items],
        pagination=page.pagination(),
    )


@router.get("/clients/{client_id}", response_model=ClientDetail)
async def client_detail(
    client_id: uuid.UUID, request: Request, db: Session, _: CurrentOperator
) -> ClientDetail:
    """Every block of the client page; amounts are strings with 2 decimals (USDT 6)."""
    return await _detail(request, db, client_id)


@router.patch("/clients/{client_id}", response_model=ClientDetail)
async def update_client(
    client_id: uuid.UUID,
    body: ClientPatchIn,
    request: Request,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> ClientDetail:
    """Any of `banned`, `can_create_cards`, `max_active_cards`, `internal_note`,
    `support_owner_id` (an operator's id, 404 when there is none). Audited: before and after."""
    await service.update(db, client_id, body.changes(), actor)
    return await _detail(request, db, client_id)


@router.post("/clients/{client_id}/plan", response_model=ClientDetail)
async def assign_plan(
    client_id: uuid.UUID,
    body: AssignPlanIn,
    request: Request,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> ClientDetail:
    """Any non-archived plan, hidden ones included; `notes` become the tariff notes. The fee is
    charged when the wallets can pay it, else the subscription is `past_due`."""
    await service.assign_plan(db, client_id, body.plan_id, body.notes, actor)
    return await _detail(request, db, client_id)


@router.post(
    "/clients/{client_id}/topup",
    status_code=status.HTTP_201_CREATED,
    response_model=MoneyMoveOut,
    responses={409: {"description": "IDEMPOTENCY_KEY_REUSED: the key named another request"}},
)
async def manual_topup(
    client_id: uuid.UUID,
    body: ManualTopupIn,
    response: Response,
    db: Session,
    _: SuperAdmin,
    actor: OperatorActor,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> MoneyMoveOut:
    """Credit the wallet by hand (ledger kind `adjustment`, with the note). An `Idempotency-Key`
    header makes a retry of the same request answer the first top-up again (the same 201 and
    figures, `replayed: true`, header `Idempotent-Replayed: true`) instead of crediting again;
    the key with another body (or from another operator) is 409 `IDEMPOTENCY_KEY_REUSED`."""
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationFailed(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    move = await service.manual_topup(
        db,
        client_id,
        body.currency,
        body.amount,
        body.note,
        actor,
        idempotency_key=idempotency_key,
    )
    if move.entry and move.entry.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return _move(move)


@router.post("/clients/{client_id}/balance", response_model=MoneyMoveOut)
async def set_demo_balance(
    client_id: uuid.UUID,
    body: DemoBalanceIn,
    request: Request,
    db: Session,
    _: SuperAdmin,
    actor: OperatorActor,
) -> MoneyMoveOut:
    """Set the wallet's balance for a demo: the difference is posted (ledger kind `demo`).
    Refused in production (403 `DEMO_DISABLED`) and below the reserved amount (409
    `BELOW_RESERVED`)."""
    move = await service.set_demo_balance(
        db,
        client_id,
        body.currency,
        body.amount,
        body.note,
        actor,
        is_production=request.app.state.settings.is_production,
    )
    return _move(move)


@router.get("/clients/{client_id}/ledger", response_model=LedgerPage)
async def client_ledger(
    client_id: uuid.UUID, q: Annotated[PageQuery, Query()], db: Session, _: CurrentOperator
) -> LedgerPage:
    """The client's wallet lines, newest first (one line per posting on its wallets)."""
    page = await service.ledger_lines(db, client_id, q)
    return LedgerPage(
        data=[LedgerLine.of(p, t) for p, t in page.items], pagination=page.pagination()
    )


@router.get("/clients/{client_id}/notifications", response_model=ClientNotificationsOut)
async def client_notifications(
    client_id: uuid.UUID, db: Session, _: CurrentOperator
) -> ClientNotificationsOut:
    """What the Telegram bot told the client: its latest 50 notifications, newest first, with
    each one's status, attempts and last error; when the client blocked the bot; and the
    low-balance alert amount it set in the app."""
    return ClientNotificationsOut.of(await service.bot_notifications(db, client_id))
