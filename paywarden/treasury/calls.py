"""Counting our calls to the card issuer: a wrapper with the adapter's interface that delegates
every method and adds one to this minute's `ok` or `failed` counter (the error rate's source).

`app.py` and the `worker` command wrap the adapter they compose, so every caller (cards, B2B,
the treasury itself) is counted and nothing in those packages knows. A call that raises (an
IssuerError, a transport error, a timeout) is failed; `health()` answering "not ok" is failed.

Each count is its own short transaction on the process's Database, written by a background task:
a request that rolls back still counts its failed call, and on SQLite (one writer at a time,
and the calling request may hold the write lock until it commits) the count waits for the lock
instead of the call waiting for it. `drain()` waits for the counts in flight; `aclose()` drains.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from paywarden.issuer.base import (
    AuthorizationRequest,
    CardDetails,
    Decision,
    Health,
    IssuedCard,
    IssuerAdapter,
    IssuerEventData,
    ProfileCheck,
)
from paywarden.kit.db import Database
from paywarden.kit.logging import get_logger
from paywarden.kit.time import utcnow
from paywarden.treasury import repository as repo
from paywarden.treasury.service import floor_minute

log = get_logger(__name__)
T = TypeVar("T")


class CountedIssuer:
    """`IssuerAdapter` that counts each call to `inner` in the database given by `db()` (None:
    nothing is counted, e.g. before the app's lifespan has opened its database)."""

    def __init__(self, inner: IssuerAdapter, db: Callable[[], Database | None]) -> None:
        self.inner = inner
        self.name = inner.name
        self._db = db
        self._pending: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"CountedIssuer({self.inner!r})"

    def __getattr__(self, item: str) -> Any:  # anything else the adapter offers
        if item == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(item)
        return getattr(self.inner, item)

    # --- counting -----------------------------------------------------------------------------

    async def _counted(self, call: Awaitable[T], judge: Callable[[T], bool] | None = None) -> T:
        try:
            result = await call
        except (Exception, asyncio.CancelledError):
            self._count(ok=False)
            raise
        self._count(ok=judge(result) if judge else True)
        return result

    def _count(self, *, ok: bool) -> None:
        db = self._db()
        if db is None:
            return
        task = asyncio.get_running_loop().create_task(self._write(db, utcnow(), ok))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write(self, db: Database, at: datetime, ok: bool) -> None:
        try:
            async with db.transaction() as session:
                await repo.bump_calls(session, floor_minute(at), int(ok), int(not ok))
        except Exception as exc:  # a lost count must never fail the call it counts
            log.warning("issuer_call_count_failed", error_type=type(exc).__name__)

    async def drain(self) -> None:
        """Wait until the counts of the calls made so far are written."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # --- the adapter's calls to the issuer ----------------------------------------------------

    async def create_card(
        self, *, currency: str, monthly_limit: int, label: str | None, reference: str
    ) -> IssuedCard:
        return await self._counted(
            self.inner.create_card(
                currency=currency, monthly_limit=monthly_limit, label=label, reference=reference
            )
        )

    async def freeze(self, issuer_card_id: str) -> None:
        await self._counted(self.inner.freeze(issuer_card_id))

    async def unfreeze(self, issuer_card_id: str) -> None:
        await self._counted(self.inner.unfreeze(issuer_card_id))

    async def close(self, issuer_card_id: str) -> None:
        await self._counted(self.inner.close(issuer_card_id))

    async def set_limit(self, issuer_card_id: str, monthly_limit: int) -> None:
        await self._counted(self.inner.set_limit(issuer_card_id, monthly_limit))

    async def card_details(self, issuer_card_id: str) -> CardDetails:
        return await self._counted(self.inner.card_details(issuer_card_id))

    async def balances(self) -> dict[str, int]:
        return await self._counted(self.inner.balances())

    async def validate_profile(self, profile: Mapping[str, object]) -> ProfileCheck:
        # A refused profile is the issuer's answer, not a failed call.
        return await self._counted(self.inner.validate_profile(profile))

    async def health(self) -> Health:
        return await self._counted(self.inner.health(), lambda h: h.ok)

    # --- the issuer's calls to us: not calls to the issuer, not counted -----------------------

    def verify(self, headers: Mapping[str, str], raw_body: bytes, now: datetime) -> None:
        self.inner.verify(headers, raw_body, now)

    def parse_authorization(self, payload: Mapping[str, object]) -> AuthorizationRequest:
        return self.inner.parse_authorization(payload)

    def authorization_answer(self, decision: Decision) -> dict[str, object]:
        return self.inner.authorization_answer(decision)

    def parse_event(self, payload: Mapping[str, object]) -> IssuerEventData:
        return self.inner.parse_event(payload)

    async def aclose(self) -> None:
        await self.drain()
        await self.inner.aclose()


def counted(
    adapter: IssuerAdapter | None, db: Callable[[], Database | None]
) -> IssuerAdapter | None:
    """`adapter` with its calls counted (None stays None: ISSUER=none)."""
    if adapter is None or isinstance(adapter, CountedIssuer):
        return adapter
    return CountedIssuer(adapter, db)


def unwrap(adapter: IssuerAdapter | None) -> IssuerAdapter | None:
    """The adapter under the counting wrapper (for tests and diagnostics)."""
    return adapter.inner if isinstance(adapter, CountedIssuer) else adapter
