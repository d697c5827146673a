"""The embedded default seeds a demo merchant once, with its API key in var/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from paywarden.config import Settings
from tests.conftest import client_for, start_app


async def test_demo_merchant_once(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(demo_data=True)
    for _ in range(2):
        app, lifespan = await start_app(settings)
        await lifespan.__aexit__(None, None, None)
    key = (settings.var_dir / "demo_api_key").read_text()
    app, lifespan = await start_app(settings)
    try:
        async with client_for(app) as client:
            made = await client.post(
                "/api/v1/payments",
                json={"external_id": "demo-1", "amount": "12.5"},
                headers={"X-API-Key": key},
            )
        assert made.status_code == 201
    finally:
        await lifespan.__aexit__(None, None, None)
    assert (settings.var_dir / "demo_api_key").stat().st_mode & 0o777 == 0o600
    assert tmp_path in settings.var_dir.parents


async def test_no_demo_data_in_production(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(demo_data=True, env="production")
    _app, lifespan = await start_app(settings)
    await lifespan.__aexit__(None, None, None)
    assert not (settings.var_dir / "demo_api_key").exists()
