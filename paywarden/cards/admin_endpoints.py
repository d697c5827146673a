"""Admin API for cards: a client's cards, issuing for a client, and the lifecycle, audited.

Any operator may do all of it: issuing for a client and freezing, unfreezing or closing a card
are support work (the seed's "Issue card (API)" block on the client page). Operators may freeze
or close a banned client's cards, never unfreeze them or raise their limits (403 CLIENT_BANNED).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from paywarden.cards import endpoints as client_api
from paywarden.cards import service
from paywarden.cards.endpoints import Issuer
from paywarden.cards.schemas import CardIn, CardLimitIn, CardList, CardOut
from paywarden.clients import service as clients
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator, OperatorActor

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: cards"])


@router.get("/clients/{client_id}/cards", response_model=CardList)
async def client_cards(client_id: uuid.UUID, db: Session, _: CurrentOperator) -> CardList:
    """The client's cards, newest first, closed ones included (404 for no such client)."""
    client = await clients.get(db, client_id)
    return CardList(data=[CardOut.of(c) for c in await service.list_for(db, client.id)])


@router.post(
    "/clients/{client_id}/cards",
    status_code=status.HTTP_201_CREATED,
    response_model=CardOut,
    responses=client_api.ISSUE_RESPONSES,
)
async def issue_card(
    client_id: uuid.UUID,
    body: CardIn,
    issuer: Issuer,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> CardOut:
    """Issue a card for the client, with the same checks and fee as the client's own request."""
    client = await clients.get(db, client_id)
    card = await service.issue(
        db, issuer, client, body.currency, body.monthly_limit, body.label, actor
    )
    return CardOut.of(card)


def _lifecycle(action: str) -> client_api.LifecycleEndpoint:
    async def change(
        card_id: uuid.UUID, issuer: Issuer, db: Session, _: CurrentOperator, actor: OperatorActor
    ) -> CardOut:
        card = await service.get(db, card_id)
        return CardOut.of(await service.move(action, db, issuer, card, actor))

    return change


client_api.add_lifecycle_routes(router, _lifecycle)


@router.patch("/cards/{card_id}", response_model=CardOut, responses=client_api.CHANGE_RESPONSES)
async def change_limit(
    card_id: uuid.UUID,
    body: CardLimitIn,
    issuer: Issuer,
    db: Session,
    _: CurrentOperator,
    actor: OperatorActor,
) -> CardOut:
    card = await service.get(db, card_id)
    return CardOut.of(await service.set_limit(db, issuer, card, body.monthly_limit, actor))
