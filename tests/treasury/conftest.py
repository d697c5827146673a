"""The treasury tests run against our app with the sandbox issuer served over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.issuer.sandbox import SandboxAdapter
from paywarden.kit.db import Database
from paywarden.treasury.calls import CountedIssuer, counted
from tests.issuer.stack import (
    IssuerStack,
    issuer_stack,  # noqa: F401 - a shared fixture
)
from tests.servers import free_socket

MILLION = 1_000_000_00  # the sandbox's opening balance per currency, in cents


def closed_port_url() -> str:
    """A local address where nothing listens: an issuer that is down."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def down_adapter(stack: IssuerStack) -> CountedIssuer:
    """The sandbox adapter (same name, same key) pointed at a closed port, its calls counted in
    the stack's database as the app's are."""
    settings = stack.settings
    key = settings.issuer_key()
    assert key is not None
    inner = SandboxAdapter(closed_port_url(), key, settings.issuer_secrets(), timeout=2)
    wrapped = counted(inner, lambda: stack.db)
    assert isinstance(wrapped, CountedIssuer)
    return wrapped


def fixed_spend(
    amounts: dict[str, int], calls: list[tuple[datetime, int]] | None = None
) -> Callable[[AsyncSession, ZoneInfo, datetime, int], object]:
    """A stand-in for the rollups' spend_over_days: the given cents for the 7 days."""

    async def spend(db: AsyncSession, tz: ZoneInfo, now: datetime, days: int) -> dict[str, int]:
        if calls is not None:
            calls.append((now, days))
        return dict(amounts)

    return spend


async def signed_in(db: Database, client: httpx.AsyncClient, email: str, role: str) -> None:
    from tests.factories import create_operator, sign_in

    await sign_in(client, await create_operator(db, email, role=role))
