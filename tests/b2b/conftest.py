"""The B2B tests' issuer: a fake of the outside world's token flow (validate_profile only),
put in place of the app's adapter for the test and the real one put back after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from paywarden.config import Settings
from paywarden.issuer.base import IssuerError, ProfileCheck
from tests.clients.test_auth import BOT_TOKEN
from tests.conftest import client_for
from tests.factories import create_operator, sign_in


class FakeTokenFlow:
    """Secrets starting with "bad" are refused, "boom" makes the issuer fail, "slow" waits;
    the account id reported is `acct_<client_id>` unless the profile asks for none."""

    name = "sandbox"

    def __init__(self) -> None:
        self.calls: list[Mapping[str, object]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def validate_profile(self, profile: Mapping[str, object]) -> ProfileCheck:
        self.calls.append(profile)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            secret = str(profile.get("client_secret"))
            if secret.startswith("slow"):
                await asyncio.sleep(0.02)
            if secret.startswith("boom"):
                raise IssuerError("token endpoint answered 502")
            if secret.startswith("bad"):
                return ProfileCheck(False, None, "token refused by the issuer: invalid_client")
            if profile.get("no_account"):
                return ProfileCheck(True, None)
            return ProfileCheck(True, f"acct_{profile.get('client_id')}")
        finally:
            self.in_flight -= 1

    async def aclose(self) -> None:
        return None


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(bot_api_token=BOT_TOKEN)


@pytest.fixture
def issuer(app: FastAPI) -> FakeTokenFlow:
    real = app.state.issuer
    fake = FakeTokenFlow()
    app.state.issuer = fake
    yield fake  # type: ignore[misc]
    app.state.issuer = real


@pytest.fixture
async def super_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    op = await create_operator(app.state.db, "pool@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c


def profile(n: int | str, secret: str = "good-secret", **extra: Any) -> dict[str, Any]:
    return {"client_id": f"cid{n}", "client_secret": f"{secret}-{n}", **extra}
