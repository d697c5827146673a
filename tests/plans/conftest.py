from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import client_for
from tests.factories import create_operator, sign_in


@pytest.fixture
async def super_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as a super_admin: the role that may change prices and the rate."""
    op = await create_operator(app.state.db, "pricing@example.com", role="super_admin")
    async with client_for(app) as c:
        await sign_in(c, op)
        yield c
