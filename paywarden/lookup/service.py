"""Lookup by ID: what a pasted id names, among clients, web users, orders and ledger
transactions. Exact matches only (ids are not searched by parts): cheap on any table size."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.kit.errors import InvalidQuery
from paywarden.kit.money import format_usdt
from paywarden.kit.time import iso
from paywarden.lookup import repository as repo
from paywarden.plans.amounts import format_cents

ADMIN = "/api/v1/admin"


@dataclass(frozen=True)
class Found:
    type: str  # client | web_user | order | ledger_transaction | card | card_transaction | topup
    id: uuid.UUID
    label: str
    url: str | None  # the admin API path of the thing (None: it has none)


def _as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


async def find(db: AsyncSession, text: str) -> list[Found]:
    """Clients by id or external_user_id; web users by id, email or linked external_user_id;
    orders by id, deposit address or the tx hash that paid them; ledger transactions by id
    or idempotency key; cards by id or issuer card id; card transactions by id or issuer
    transaction id; top-ups by id or their order's id. Empty text: 400 INVALID_QUERY."""
    term = text.strip()
    if not term:
        raise InvalidQuery("Invalid query parameters: id must not be empty")
    as_id = _as_uuid(term)
    found: list[Found] = []
    for c in await repo.clients(db, term, as_id):
        name = c.display_name or c.username
        label = f"{c.external_user_id} · {name}" if name else c.external_user_id
        found.append(Found("client", c.id, label, f"{ADMIN}/clients/{c.id}"))
    for u in await repo.web_users(db, term, as_id):
        url = f"{ADMIN}/web-users?search={u.id}"  # the list is its admin view
        found.append(Found("web_user", u.id, f"{u.email} ({u.status})", url))
    for o in await repo.orders(db, term, as_id):
        label = f"{o.external_id} · {format_usdt(o.amount_expected)} USDT · {o.status}"
        found.append(Found("order", o.id, label, f"{ADMIN}/orders/{o.id}"))
    for t in await repo.ledger_transactions(db, term, as_id):
        client_id = await repo.client_of_transaction(db, t.id)
        url = f"{ADMIN}/clients/{client_id}/ledger" if client_id else None
        found.append(Found("ledger_transaction", t.id, f"{t.kind} · {iso(t.created_at)}", url))
    for card in await repo.cards(db, term, as_id):
        label = f"{card.currency} card ··{card.last4 or '----'} · {card.status}"
        found.append(Found("card", card.id, label, f"{ADMIN}/clients/{card.client_id}/cards"))
    for tx in await repo.card_transactions(db, term, as_id):
        label = f"{format_cents(tx.amount)} {tx.currency} · {tx.merchant or '—'} · {tx.status}"
        url = f"{ADMIN}/card-transactions?card_id={tx.card_id}"
        found.append(Found("card_transaction", tx.id, label, url))
    for t in await repo.topups(db, as_id):
        label = f"top-up {format_usdt(t.amount_usdt)} USDT · {t.status}"
        found.append(Found("topup", t.id, label, f"{ADMIN}/orders/{t.order_id}"))
    return found
