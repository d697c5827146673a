"""Demo data for the embedded default: a merchant to try the API with on a fresh install."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit.context import SYSTEM
from paywarden.kit.logging import get_logger
from paywarden.kit.security import random_token
from paywarden.merchants import repository as merchants_repo
from paywarden.merchants import service as merchants

log = get_logger(__name__)
DEMO_MERCHANT = "Demo Shop"


async def seed(db: AsyncSession, var_dir: Path, base_url: str) -> None:
    """Once, on an empty database: a demo merchant whose API key is saved to var/demo_api_key."""
    await merchants_repo.lock_merchants(db)  # server processes starting together seed once
    if await merchants_repo.count(db) > 0:
        return
    made = await merchants.create(
        db, name=DEMO_MERCHANT, webhook_secret=random_token(24), webhook_url=None, actor=SYSTEM
    )
    path = var_dir / "demo_api_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(made.api_key)
    log.info(
        "demo_merchant_created",
        merchant=DEMO_MERCHANT,
        try_it=(
            f'curl -X POST {base_url}/api/v1/payments -H "X-API-Key: $(cat {path})" '
            '-H \'Content-Type: application/json\' -d \'{"external_id": "demo-1", '
            '"amount": "12.5"}\''
        ),
    )
