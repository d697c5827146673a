"""`GET /api/v1/admin/wallet`: hot and cold wallets, the address pool, the sweep queue, system."""

from __future__ import annotations

from fastapi import APIRouter, Request

from paywarden.kit.web import DbRoute, Session
from paywarden.operators.dependencies import CurrentOperator
from paywarden.sweeps import wallet as wallet_view
from paywarden.sweeps.schemas import WalletOut

router = APIRouter(prefix="/api/v1/admin", route_class=DbRoute, tags=["admin: gateway"])


@router.get("/wallet", response_model=WalletOut)
async def wallet(request: Request, db: Session, _: CurrentOperator) -> WalletOut:
    """`hot_wallet` is null until a worker holding HOT_WALLET_KEY has started (it registers the
    address, never the key); its TRX balance is read live, cached a few seconds for every
    process. `cold_wallet` is null without COLD_WALLET_ADDRESS."""
    state = request.app.state
    return await wallet_view.overview(db, state.settings, state.network, state.gateway)
