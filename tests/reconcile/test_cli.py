"""`paywarden reconcile` as a real process, its settings from the environment alone (as the soak
runs it): exit 0 and the JSON verdict, 1 with the differences, 2 when it cannot run."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update

from paywarden.models import Order
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_XPUB
from tests.reconcile.conftest import USDT, World, world  # noqa: F401 - fixtures
from tests.sweeps.conftest import COLD
from tests.test_cli import run_cli


def _env(w: World, tmp_path: Path, trongrid_url: str | None = None) -> dict[str, str]:
    return {
        "TRON_NETWORK": "devnet",
        "TRONGRID_URL": trongrid_url or w.chain.devnet.url,
        "COLD_WALLET_ADDRESS": COLD,
        "XPUB": TEST_XPUB,
        "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "WARNING",
    }


async def test_the_command_reports_in_json_and_exits_by_verdict(
    database_url: str,
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    code, out = await run_cli(database_url, "reconcile", "--json", env=_env(world, tmp_path))
    assert code == 0, out
    document = json.loads(out)
    assert document["verdict"] == "ok"
    assert document["differences"] == []
    assert document["checks"]["orders"] == {"checked": 5, "differences": 0, "notes": 0}

    code, out = await run_cli(
        database_url, "reconcile", "--since", "2999-01-01", env=_env(world, tmp_path)
    )
    assert code == 0, out  # nothing in the window
    assert "orders: 0 checked, 0 difference(s)" in out

    async with world.chain.db.transaction() as session:
        await session.execute(
            update(Order).where(Order.id == world.orders["over"]).values(amount_received=USDT)
        )
    code, out = await run_cli(database_url, "reconcile", "--json", env=_env(world, tmp_path))
    assert code == 1, out
    document = json.loads(out)
    assert document["verdict"] == "differences"
    kinds = {(d["kind"], d["ids"]["order_id"]) for d in document["differences"]}
    assert kinds == {
        ("order_amount_mismatch", str(world.orders["over"])),
        ("order_status_mismatch", str(world.orders["over"])),  # 1 of 5 USDT: not paid
    }
    code, out = await run_cli(database_url, "reconcile", env=_env(world, tmp_path))
    assert code == 1, out
    assert f"order_amount_mismatch: order_id={world.orders['over']}" in out
    assert "expected 10.000000 actual 1.000000" in out
    assert out.strip().endswith("reconcile: differences found")


async def test_it_cannot_run_without_trongrid_a_database_or_good_arguments(
    database_url: str,
    world: World,  # noqa: F811
    tmp_path: Path,
) -> None:
    nowhere = _env(world, tmp_path, "http://127.0.0.1:9/devnet")  # the discard port: refused
    code, out = await run_cli(database_url, "reconcile", env=nowhere)
    assert code == 2, out
    assert "cannot reconcile" in out

    code, out = await run_cli(database_url, "reconcile", "--since", "last tuesday")
    assert code == 2, out
    assert "not a date or ISO time" in out

    missing = f"sqlite+aiosqlite:///{tmp_path / 'none.db'}"
    code, out = await run_cli(missing, "reconcile", env=_env(world, tmp_path))
    assert code == 2, out
    assert not (tmp_path / "none.db").exists()  # not created by looking
