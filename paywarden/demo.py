"""Demo data for the embedded default: a merchant to try the API with, two plans and a rate."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit.context import SYSTEM
from paywarden.kit.logging import get_logger
from paywarden.kit.security import random_token
from paywarden.merchants import repository as merchants_repo
from paywarden.merchants import service as merchants
from paywarden.merchants.dev_receiver import receiver_url
from paywarden.plans import repository as plans_repo
from paywarden.plans import service as plans
from paywarden.plans.amounts import parse_rate

log = get_logger(__name__)
DEMO_MERCHANT = "Demo Shop"
# Column values: cents of EUR, basis points (hundredths of a percent).
DEMO_PLANS = (
    {
        "name": "Start",
        "bullets": "1 card included\nTop-up fee 2.5%\nFX fee 1.5%",
        "monthly_fee": 0,
        "cards_included": 1,
        "max_active_cards": 3,
        "card_issue_fee": 500,
        "topup_fee_bps": 250,
        "fx_fee_bps": 150,
        "hidden_from_home": False,
        "sort_order": 10,
        "is_default": True,
        "archived": False,
    },
    {
        "name": "Pro",
        "bullets": "5 cards included\nTop-up fee 1.5%\nFX fee 1%",
        "monthly_fee": 999,
        "cards_included": 5,
        "max_active_cards": 20,
        "card_issue_fee": 300,
        "topup_fee_bps": 150,
        "fx_fee_bps": 100,
        "hidden_from_home": False,
        "sort_order": 20,
        "is_default": False,
        "archived": False,
    },
)
DEMO_EUR_USD = "1.0850"


async def seed(db: AsyncSession, var_dir: Path, base_url: str) -> None:
    """Once, on an empty database: a demo merchant whose API key is saved to var/demo_api_key
    and whose webhooks go to the built-in development receiver;
    and, while no plan exists, two demo plans (one the default) and an EUR/USD rate."""
    await merchants_repo.lock_merchants(db)  # server processes starting together seed once
    await _seed_pricing(db)
    if await merchants_repo.count(db) > 0:
        return
    made = await merchants.create(
        db, name=DEMO_MERCHANT, webhook_secret=random_token(24), webhook_url=None, actor=SYSTEM
    )
    # Its webhooks go to the built-in receiver, so a demo order completes as a real shop's does.
    hook = receiver_url(base_url, made.merchant.id)
    await merchants.update(db, made.merchant.id, {"webhook_url": hook}, SYSTEM)
    path = var_dir / "demo_api_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(made.api_key)
    log.info(
        "demo_merchant_created",
        merchant=DEMO_MERCHANT,
        try_it="create a payment with the command below",
    )
    # On its own line: the console log quotes values with spaces, and this must paste as it is.
    command = (
        f'curl -X POST {base_url}/api/v1/payments -H "X-API-Key: $(cat {path})" '
        '-H \'Content-Type: application/json\' -d \'{"external_id": "demo-1", '
        '"amount": "12.5"}\''
    )
    print(command, file=sys.stderr, flush=True)


async def _seed_pricing(db: AsyncSession) -> None:
    await plans_repo.lock_plans(db)
    if await plans_repo.count(db) > 0:
        return
    for values in DEMO_PLANS:
        await plans.create(db, dict(values), SYSTEM)
    if await plans.rate(db) is None:
        await plans.set_rate(db, parse_rate(DEMO_EUR_USD), SYSTEM)
    log.info("demo_plans_created", plans=[p["name"] for p in DEMO_PLANS], eur_usd=DEMO_EUR_USD)
