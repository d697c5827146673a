"""The seed's "Lookup by ID": `GET /api/v1/admin/lookup?id=` for any signed-in operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paywarden.kit.web import DbRoute, Session
from paywarden.lookup import service
from paywarden.lookup.schemas import LookupOut, LookupQuery, LookupResult
from paywarden.operators.dependencies import CurrentOperator

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: lookup"])


@router.get("/lookup", response_model=LookupOut)
async def lookup(q: Annotated[LookupQuery, Query()], db: Session, _: CurrentOperator) -> LookupOut:
    """Everything the id names exactly: clients, web users, orders, ledger transactions (an
    empty list when nothing matches; an empty id is 400 `INVALID_QUERY`)."""
    found = await service.find(db, q.id)
    return LookupOut(results=[LookupResult.of(f) for f in found])
