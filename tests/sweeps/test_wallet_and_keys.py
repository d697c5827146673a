"""The hot wallet on `/wallet` and `/metrics`, its low-balance alert, and the keys' rules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from paywarden.config import ConfigError, Settings
from paywarden.context import gateway_context, sweeper
from paywarden.models import Incident
from paywarden.sweeps.keys import UnexpectedTransaction
from paywarden.tron.keys import account_xpub
from tests.conftest import TEST_MNEMONIC
from tests.sweeps.conftest import HOT, HOT_KEY, SUN, Sweeps

OTHER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"


async def test_wallet_shows_the_hot_wallet_and_its_low_balance_once_per_crossing(
    sweeps: Sweeps, make_settings: Callable[..., Settings]
) -> None:
    api, db = sweeps.chain.api, sweeps.chain.db
    await sweeps.sweeper.run_pass(db, sweeps.devnet.client)  # the worker registers it
    wallet = (await api.get("/api/v1/admin/wallet")).json()
    assert wallet["hot_wallet"] == {
        "address": HOT,
        "trx_balance": f"{await sweeps.devnet.trx(HOT) // SUN}.000000",
        "is_low_balance": False,
    }
    assert wallet["system"]["sweep_enabled"] is True

    async def low_incidents() -> list[Incident]:
        async with db.transaction() as session:
            query = select(Incident).where(Incident.event_type == "hot_wallet_low")
            return list((await session.scalars(query)).all())

    async def set_balance(sun: int) -> None:
        sweeps.devnet.chain.state.accounts[HOT].balance = sun  # the devnet's state, directly
        async with db.transaction() as session:  # the cache runs out
            await session.execute(text("UPDATE hot_wallets SET checked_at = NULL"))

    await set_balance(50 * SUN)
    wallet = (await api.get("/api/v1/admin/wallet")).json()
    assert wallet["hot_wallet"]["trx_balance"] == "50.000000"
    assert wallet["hot_wallet"]["is_low_balance"] is True
    [incident] = await low_incidents()
    assert incident.payload == {"address": HOT, "trx_balance": "50.000000", "alert_trx": 100}
    # Still low: no second incident; cached: no new read either.
    await set_balance(40 * SUN)
    await sweeps.sweeper.run_pass(db, sweeps.devnet.client)
    assert len(await low_incidents()) == 1
    sweeps.devnet.chain.state.accounts[HOT].balance = 30 * SUN
    cached = (await api.get("/api/v1/admin/wallet")).json()
    assert cached["hot_wallet"]["trx_balance"] == "40.000000"
    metrics = (await api.get("/metrics")).text
    assert "paywarden_hot_wallet_low 1.0" in metrics
    assert "paywarden_hot_wallet_trx 40.0" in metrics
    # Back above, then under again: a second crossing, a second incident.
    await set_balance(500 * SUN)
    assert (await api.get("/api/v1/admin/wallet")).json()["hot_wallet"]["is_low_balance"] is False
    assert "paywarden_hot_wallet_low 0.0" in (await api.get("/metrics")).text
    await set_balance(10 * SUN)
    assert (await api.get("/api/v1/admin/wallet")).json()["hot_wallet"]["is_low_balance"] is True
    assert len(await low_incidents()) == 2


async def test_no_key_reaches_the_database_or_an_answer(sweeps: Sweeps) -> None:
    order = await sweeps.confirmed_order("12.5")
    await sweeps.run()
    api, db = sweeps.chain.api, sweeps.chain.db
    answers = [
        (await api.get("/api/v1/admin/wallet")).text,
        (await api.get(f"/api/v1/admin/orders/{order['id']}")).text,
        (await api.get("/metrics")).text,
    ]
    dump = []
    async with db.transaction() as session:
        for table in ("sweeps", "hot_wallets", "orders", "order_events", "incidents"):
            dump.append(str((await session.execute(text(f"SELECT * FROM {table}"))).all()))  # noqa: S608
    from paywarden.sweeps.keys import SweepKeys

    seed_key = SweepKeys(HOT_KEY, TEST_MNEMONIC, account_xpub(TEST_MNEMONIC))
    deposit_key = seed_key._deposit_key(0, order["address"]).secret.hex()
    for blob in answers + dump:
        assert HOT_KEY not in blob
        assert deposit_key not in blob
        assert "abandon" not in blob
    assert HOT_KEY not in repr(sweeps.sweeper.keys)


async def test_only_the_worker_reads_the_keys(make_settings: Callable[..., Settings]) -> None:
    from paywarden.app import create_app
    from paywarden.worker import run_worker

    # A seed that is not XPUB's: the API process (any `serve`) never looks at it...
    settings = make_settings(hot_wallet_key=HOT_KEY, sweep_seed=OTHER_MNEMONIC)
    create_app(settings)
    # ...`paywarden worker` (serve's child process in the embedded default) checks it at start.
    with pytest.raises(ConfigError, match="does not match XPUB"):
        await run_worker(settings, asyncio.Event())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sweep_seed": OTHER_MNEMONIC}, "SWEEP_SEED does not match XPUB"),
        ({"sweep_seed": "not a mnemonic at all"}, "not a valid BIP-39 mnemonic"),
        ({"sweep_seed": None}, "SWEEP_SEED or SWEEP_SEED_FILE"),
        ({"hot_wallet_key": None}, "HOT_WALLET_KEY"),
        ({"cold_wallet_address": None}, "COLD_WALLET_ADDRESS"),
    ],
)
def test_the_worker_refuses_keys_that_do_not_fit(
    make_settings: Callable[..., Settings], overrides: dict[str, Any], message: str
) -> None:
    values: dict[str, Any] = {
        "sweep_enabled": True,
        "cold_wallet_address": "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH",
        "hot_wallet_key": HOT_KEY,
        "sweep_seed": TEST_MNEMONIC,
        **overrides,
    }
    settings = make_settings(**values)
    with pytest.raises(ConfigError, match=message):
        sweeper(settings, gateway_context(settings))


def test_the_seed_may_come_from_a_file(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "seed"
    path.write_text(TEST_MNEMONIC + "\n")
    settings = make_settings(hot_wallet_key=HOT_KEY, sweep_seed_file=path)
    made = sweeper(settings, gateway_context(settings))
    assert made is not None
    assert made.keys.hot_address == HOT
    with pytest.raises(ValueError, match="not both"):
        make_settings(hot_wallet_key=HOT_KEY, sweep_seed_file=path, sweep_seed=TEST_MNEMONIC)


def test_bad_values_are_refused(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="COLD_WALLET_ADDRESS"):
        make_settings(cold_wallet_address="not-an-address")
    with pytest.raises(ValueError, match="HOT_WALLET_KEY"):
        make_settings(hot_wallet_key="abc")
    with pytest.raises(ValueError, match="SWEEP_MIN_AMOUNT"):
        make_settings(sweep_min_amount="1.1234567")
    assert make_settings(sweep_min_amount="2.5").sweep_min_amount_units == 2_500_000


async def test_a_transaction_that_says_something_else_is_never_signed(sweeps: Sweeps) -> None:
    keys = sweeps.sweeper.keys
    client = sweeps.devnet.client
    tx = await client.create_transaction(HOT, "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", 5 * SUN)
    signed = keys.sign_hot(
        tx, "TransferContract", to_address="TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", amount=5 * SUN
    )
    assert len(bytes.fromhex(signed["signature"][0])) == 65
    with pytest.raises(UnexpectedTransaction, match="amount"):
        keys.sign_hot(
            tx, "TransferContract", to_address="TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", amount=SUN
        )
    with pytest.raises(UnexpectedTransaction, match="to_address"):
        keys.sign_hot(tx, "TransferContract", to_address=HOT, amount=5 * SUN)
    forged = {**tx, "txID": "00" * 32}
    with pytest.raises(UnexpectedTransaction, match="txID"):
        keys.sign_hot(
            forged,
            "TransferContract",
            to_address="TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH",
            amount=5 * SUN,
        )
    with pytest.raises(UnexpectedTransaction, match="derivation index"):
        keys.sign_deposit(tx, 1, "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH", "TransferContract")
