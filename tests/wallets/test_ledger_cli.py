"""`paywarden ledger check`, run as a real process against the test database."""

from __future__ import annotations

from sqlalchemy import select, update

from paywarden.kit.db import Database
from paywarden.models import AuditEntry, LedgerAccount
from paywarden.wallets import service as wallets
from tests.test_cli import run_cli
from tests.wallets.conftest import create_client, credit


async def test_check_exits_1_on_a_difference_and_fix_rebuilds(
    database_url: str, ledger: Database
) -> None:
    code, out = await run_cli(database_url, "ledger", "check")
    assert code == 0, out  # an empty ledger is consistent

    client = await create_client(ledger)
    async with ledger.transaction() as session:
        await credit(session, client, "EUR", 4_200)
        wallet = await wallets.wallet(session, client, "EUR")
    code, out = await run_cli(database_url, "ledger", "check")
    assert code == 0, out
    assert "every balance equals its postings" in out

    async with ledger.transaction() as session:
        await session.execute(
            update(LedgerAccount).where(LedgerAccount.id == wallet).values(balance=4_000)
        )
    code, out = await run_cli(database_url, "ledger", "check")
    assert code == 1, out
    assert f"balance {wallet} (client {client} EUR): cached 4000, postings 4200" in out
    assert "differences found" in out

    code, out = await run_cli(database_url, "ledger", "check", "--fix")
    assert code == 0, out
    assert "rebuilt 1 cached balance(s)" in out
    code, out = await run_cli(database_url, "ledger", "check")
    assert code == 0, out
    async with ledger.transaction() as session:
        assert (await wallets.balances(session, client))["EUR"].balance == 4_200
        audit = (await session.scalars(select(AuditEntry))).all()
    assert [(a.actor, a.action, a.target_id) for a in audit] == [
        ("cli", "ledger.rebuild_balance", str(wallet))
    ]
