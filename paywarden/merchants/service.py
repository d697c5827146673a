"""Merchant rules: create, update, rotate keys, and recognise a merchant by its API key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.incidents.repository import IncidentRow
from paywarden.kit.crypto import keys_of
from paywarden.merchants import keys
from paywarden.merchants import repository as repo
from paywarden.merchants.errors import (
    EmptyUpdate,
    InternalMerchant,
    InvalidApiKey,
    MerchantNameTaken,
    MerchantNotFound,
)
from paywarden.merchants.repository import MerchantStats
from paywarden.models import Merchant, Order


@dataclass(frozen=True)
class WithKey:
    merchant: Merchant
    api_key: str  # shown once, never stored


async def create(
    db: AsyncSession, *, name: str, webhook_secret: str, webhook_url: str | None, actor: Actor
) -> WithKey:
    if await repo.by_name(db, name):
        raise MerchantNameTaken()
    api_key = keys.new_api_key()
    merchant = Merchant(
        name=name,
        webhook_secret=keys_of(db).encrypt(webhook_secret),  # a Fernet token at rest
        webhook_url=webhook_url,
        api_key_hash=keys.key_hash(api_key),
        api_key_prefix=keys.display_prefix(api_key),
    )
    db.add(merchant)
    await db.flush()
    audit.record(
        db,
        actor,
        "merchant.create",
        target_type="merchant",
        target_id=merchant.id,
        details={"name": name, "webhook_url": webhook_url},
    )
    return WithKey(merchant, api_key)


async def get(db: AsyncSession, merchant_id: uuid.UUID) -> Merchant:
    merchant = await repo.get(db, merchant_id)
    if merchant is None:
        raise MerchantNotFound()
    return merchant


async def webhook_secret(db: AsyncSession, merchant_id: uuid.UUID) -> str:
    """The merchant's webhook secret, decrypted (for the development receiver's check only)."""
    return keys_of(db).decrypt((await get(db, merchant_id)).webhook_secret)


async def list_all(db: AsyncSession) -> Sequence[tuple[Merchant, int]]:
    return await repo.list_with_order_counts(db)


async def update(
    db: AsyncSession, merchant_id: uuid.UUID, changes: dict[str, object], actor: Actor
) -> Merchant:
    """Apply the given fields; the webhook secret is never written to the audit log."""
    if not changes:
        raise EmptyUpdate()
    merchant = await get(db, merchant_id)
    if merchant.is_internal:
        raise InternalMerchant()
    name = changes.get("name")
    if isinstance(name, str) and name != merchant.name and await repo.by_name(db, name):
        raise MerchantNameTaken()
    for field, value in changes.items():
        if field == "webhook_secret" and isinstance(value, str):
            value = keys_of(db).encrypt(value)
        setattr(merchant, field, value)
    logged = {k: v for k, v in changes.items() if k != "webhook_secret"}
    if "webhook_secret" in changes:
        logged["webhook_secret_rotated"] = True
    action = "merchant.update"
    if set(changes) == {"is_active"}:
        action = "merchant.reactivate" if changes["is_active"] else "merchant.suspend"
    audit.record(db, actor, action, target_type="merchant", target_id=merchant.id, details=logged)
    return merchant


async def rotate_api_key(db: AsyncSession, merchant_id: uuid.UUID, actor: Actor) -> WithKey:
    """A new key; the old one stops working when this commits."""
    merchant = await get(db, merchant_id)
    if merchant.is_internal:
        raise InternalMerchant()
    api_key = keys.new_api_key()
    old_prefix = merchant.api_key_prefix
    merchant.api_key_hash = keys.key_hash(api_key)
    merchant.api_key_prefix = keys.display_prefix(api_key)
    audit.record(
        db,
        actor,
        "merchant.rotate_api_key",
        target_type="merchant",
        target_id=merchant.id,
        details={"old_prefix": old_prefix, "new_prefix": merchant.api_key_prefix},
    )
    return WithKey(merchant, api_key)


async def authenticate(db: AsyncSession, api_key: str | None) -> Merchant:
    if not api_key or not api_key.startswith(keys.PREFIX) or len(api_key) > 128:
        raise InvalidApiKey()
    merchant = await repo.by_key_hash(db, keys.key_hash(api_key))
    if merchant is None:
        raise InvalidApiKey()
    return merchant


@dataclass(frozen=True)
class Detail:
    merchant: Merchant
    stats: MerchantStats
    recent_orders: Sequence[Order]
    recent_incidents: Sequence[IncidentRow]


async def detail(db: AsyncSession, merchant_id: uuid.UUID) -> Detail:
    """The merchant, its figures, and its 10 latest orders and incidents."""
    from paywarden.incidents import service as incidents

    merchant = await get(db, merchant_id)
    return Detail(
        merchant=merchant,
        stats=await repo.stats(db, merchant.id),
        recent_orders=await repo.latest_orders(db, merchant.id),
        recent_incidents=await incidents.latest(db, merchant_id=merchant.id),
    )
