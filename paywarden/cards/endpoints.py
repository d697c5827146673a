"""The client API's cards (`/api/botcartd/cards...`): issue, list, lifecycle, details.

Who is calling is resolved by `CurrentClient`; a client only sees and touches its own cards
(another's is 404), and a banned client changes nothing (403 CLIENT_BANNED).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from paywarden.cards import service
from paywarden.cards.errors import CardsOff
from paywarden.cards.schemas import CardDetailsOut, CardIn, CardLimitIn, CardList, CardOut
from paywarden.clients import service as clients
from paywarden.clients.auth import CurrentClient
from paywarden.issuer.base import IssuerAdapter
from paywarden.kit.openapi import ERROR_REF
from paywarden.kit.web import DbRoute, Session
from paywarden.models import Card


async def _issuer(request: Request) -> IssuerAdapter:
    return request.app.state.issuer


async def cards_enabled(request: Request) -> None:
    """503 CARDS_DISABLED while the app runs no issuer (ISSUER=none): app.py puts this before
    every card route, so none of them reaches a service without an adapter."""
    if getattr(request.app.state, "issuer", None) is None:
        raise CardsOff()


Issuer = Annotated[IssuerAdapter, Depends(_issuer)]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


ISSUER_FAILED = _error("Issuer down (ISSUER_UNAVAILABLE: retry later) or refusing (ISSUER_ERROR)")
CLOSED = _error("The card is closed (INVALID_STATE)")
ISSUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    402: _error("Not enough funds for the card issue fee (INSUFFICIENT_FUNDS)"),
    403: _error("CLIENT_BANNED, CARDS_DISABLED"),
    409: _error("SUBSCRIPTION_INACTIVE, CARD_LIMIT_REACHED, FX_RATE_NOT_SET"),
    502: ISSUER_FAILED,
}
CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: _error("CLIENT_BANNED"),
    404: _error("No such card of this client (NOT_FOUND)"),
    409: CLOSED,
    502: ISSUER_FAILED,
}

router = APIRouter(prefix="/api/botcartd", route_class=DbRoute, tags=["client API: cards"])


@router.get("/cards", response_model=CardList)
async def list_cards(caller: CurrentClient, db: Session) -> CardList:
    """The client's cards, newest first, closed ones included."""
    return CardList(data=[CardOut.of(c) for c in await service.list_for(db, caller.client.id)])


@router.post(
    "/cards",
    status_code=status.HTTP_201_CREATED,
    response_model=CardOut,
    responses=ISSUE_RESPONSES,
)
async def issue_card(body: CardIn, caller: CurrentClient, issuer: Issuer, db: Session) -> CardOut:
    """Issue a virtual card; past the plan's included cards its issue fee is charged (EUR, or
    USD at the operators' rate when EUR is short)."""
    card = await service.issue(
        db, issuer, caller.client, body.currency, body.monthly_limit, body.label
    )
    return CardOut.of(card)


async def _own(db: Session, caller: CurrentClient, card_id: uuid.UUID) -> Card:
    client = clients.ensure_can_change(caller.client)
    return await service.of_client(db, client, card_id)


LifecycleEndpoint = Callable[..., Awaitable[CardOut]]


def add_lifecycle_routes(
    router: APIRouter,
    endpoint_for: Callable[[str], LifecycleEndpoint],
    descriptions: Mapping[str, str] | None = None,
) -> None:
    """`POST /cards/{card_id}/<action>` for each lifecycle action (freeze, unfreeze, close), each
    answering the card as it is after the action."""
    for action in service.LIFECYCLE:
        router.add_api_route(
            f"/cards/{{card_id}}/{action}",
            endpoint_for(action),
            methods=["POST"],
            name=action,
            response_model=CardOut,
            responses=CHANGE_RESPONSES,
            description=(descriptions or {}).get(action),
        )


def _lifecycle(action: str) -> LifecycleEndpoint:
    async def change(
        card_id: uuid.UUID, caller: CurrentClient, issuer: Issuer, db: Session
    ) -> CardOut:
        card = await _own(db, caller, card_id)
        return CardOut.of(await service.move(action, db, issuer, card))

    return change


add_lifecycle_routes(
    router,
    _lifecycle,
    {
        "freeze": "Freeze the card (purchases declined until unfrozen); "
        "a frozen card stays frozen.",
        "close": "Close the card for good.",
    },
)


@router.patch("/cards/{card_id}", response_model=CardOut, responses=CHANGE_RESPONSES)
async def change_limit(
    card_id: uuid.UUID, body: CardLimitIn, caller: CurrentClient, issuer: Issuer, db: Session
) -> CardOut:
    """A new monthly limit in the card's currency."""
    card = await _own(db, caller, card_id)
    return CardOut.of(await service.set_limit(db, issuer, card, body.monthly_limit))


@router.get("/cards/{card_id}/details", response_model=CardDetailsOut, responses=CHANGE_RESPONSES)
async def card_details(
    card_id: uuid.UUID, caller: CurrentClient, issuer: Issuer, db: Session, response: Response
) -> CardDetailsOut:
    """PAN, expiry and CVV, fetched from the issuer now: never stored, never logged, never
    cached (`Cache-Control: no-store`). A banned client gets none (403)."""
    response.headers["Cache-Control"] = "no-store"
    card = await _own(db, caller, card_id)
    data = await service.details(issuer, card)
    return CardDetailsOut(pan=data.pan, expiry=data.expiry, cvv=data.cvv)
