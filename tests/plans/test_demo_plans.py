"""The embedded default's demo data: two plans (one the default) and a rate, made once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from paywarden.config import Settings
from paywarden.models import FxRate, Plan
from paywarden.plans import service
from tests.conftest import start_app


async def test_demo_plans_and_rate_once(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(demo_data=True)
    for _ in range(2):
        app, lifespan = await start_app(settings)
        try:
            async with app.state.db.transaction() as session:
                plans = (await session.scalars(select(Plan).order_by(Plan.sort_order))).all()
                assert [(p.name, p.is_default) for p in plans] == [
                    ("Start", True),
                    ("Pro", False),
                ]
                assert len((await session.scalars(select(FxRate))).all()) == 1
                assert str(await service.current_rate(session)) == "1.085000"
        finally:
            await lifespan.__aexit__(None, None, None)


async def test_no_demo_plans_without_demo_data(make_settings: Callable[..., Settings]) -> None:
    app, lifespan = await start_app(make_settings(demo_data=False))
    try:
        async with app.state.db.transaction() as session:
            assert (await session.scalars(select(Plan))).all() == []
    finally:
        await lifespan.__aexit__(None, None, None)
