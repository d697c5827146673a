"""`/api/v1/admin/card-transactions…`: the seed's "Global webhook transactions (support /
anti-fraud)". Reading only: any operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from paywarden.card_transaction_review import service
from paywarden.card_transaction_review.repository import TxFilter
from paywarden.card_transaction_review.schemas import (
    BreakdownOut,
    BreakdownQuery,
    GroupOut,
    TxOut,
    TxPage,
    TxQuery,
)
from paywarden.kit.time import iso
from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: card transactions"])


@router.get("/card-transactions", response_model=TxPage)
async def list_card_transactions(
    q: Annotated[TxQuery, Query()], db: Session, _: CurrentOperator
) -> TxPage:
    """Newest first. Filters: `client_id`, `card_id`, `status`, `decline_reason`, `merchant`
    (a substring, any case), `mcc`, `country`, `from`/`to` (ISO dates or date-times, UTC when
    no offset; `to` inclusive, a date covering its whole day). 400 `INVALID_QUERY` on a bad
    value."""
    f = TxFilter(
        client_id=q.client_id,
        card_id=q.card_id,
        status=q.status,
        decline_reason=q.decline_reason,
        merchant=q.merchant,
        mcc=q.mcc,
        country=q.country,
        since=q.since,
        until=q.until,
    )
    page = await service.transactions(db, f, q)
    return TxPage(data=[TxOut.of(r) for r in page.items], pagination=page.pagination())


@router.get("/card-transactions/breakdown", response_model=BreakdownOut)
async def card_transactions_breakdown(
    q: Annotated[BreakdownQuery, Query()], db: Session, _: CurrentOperator
) -> BreakdownOut:
    """Grouped by `by`: `merchant` and `mcc` (most transactions first), `decline_reason`
    (declined ones only), `client_volume` (most spent first, USD counted in EUR at the
    operators' rate), `client_declines` (most declines first, clients with none left out).
    Each group: counts (all, approved, declined), the approval rate and the volume per
    currency; the top `limit` (20, at most 100). The window is `from`..`to` (default: the 30
    days up to `to` or now)."""
    done = await service.breakdown(db, q.by, q.since, q.until, q.limit)
    return BreakdownOut(
        by=q.by,
        from_=iso(done.since),
        to=iso(done.until),
        data=[GroupOut.of(g) for g in done.groups],
    )
