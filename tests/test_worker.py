"""The worker composes each package's pass from its `tasks.py`: every loop that needs only the
database runs one pass here, so a loop calling its task with the wrong arguments fails a test
rather than only logging `loop_failed` in a running worker."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from paywarden.context import WorkerContext
from paywarden.kit.db import Database
from paywarden.models import CardExposure
from paywarden.models.ledger import WALLET_CURRENCIES
from paywarden.worker import LOOPS, Done

# These reach TronGrid, the sweeper's keys or the issuer: their own tests drive them.
OUTSIDE = {"scan_chain", "run_sweeps", "check_issuer_float"}


async def test_every_database_loop_runs_a_pass_with_nothing_due(app: FastAPI, db: Database) -> None:
    ctx = WorkerContext(db=db, gateway=app.state.gateway)
    ran = {}
    for loop in LOOPS:
        if loop.name not in OUTSIDE:
            done = await loop.run_once(ctx)
            ran[loop.name] = done.work if isinstance(done, Done) else done
    # A fresh database: the app's start filled the address pool, nothing else is due.
    assert ran == dict.fromkeys(ran, 0)
    assert set(ran) == {loop.name for loop in LOOPS} - OUTSIDE


async def test_the_exposure_pass_shares_a_figure_per_currency(app: FastAPI, db: Database) -> None:
    [loop] = [loop for loop in LOOPS if loop.name == "refresh_card_exposure"]
    await loop.run_once(WorkerContext(db=db, gateway=app.state.gateway))
    async with db.transaction() as session:
        rows = (await session.scalars(select(CardExposure))).all()
    assert {r.currency: r.available_to_spend for r in rows} == dict.fromkeys(WALLET_CURRENCIES, 0)
