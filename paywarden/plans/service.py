"""Plan rules (at most one default; the default is never archived) and the EUR/USD rate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.pagination import Page, PageQuery
from paywarden.models import FxRate, Plan
from paywarden.plans import repository as repo
from paywarden.plans.amounts import format_rate, rate_decimal
from paywarden.plans.errors import (
    ArchivedPlanDefault,
    DefaultPlanArchived,
    EmptyUpdate,
    FxRateNotSet,
    PlanNameTaken,
    PlanNotFound,
)
from paywarden.plans.schemas import rendered


async def list_all(db: AsyncSession) -> Sequence[Plan]:
    """Every plan, archived ones included, by `sort_order`."""
    return await repo.list_all(db)


async def home_catalog(db: AsyncSession) -> Sequence[Plan]:
    return await repo.home_catalog(db)


async def default_plan(db: AsyncSession) -> Plan | None:
    """The plan new clients get (None when operators set no default)."""
    return await repo.default_plan(db)


async def get(db: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await repo.get(db, plan_id)
    if plan is None:
        raise PlanNotFound()
    return plan


def _check(values: dict[str, Any]) -> None:
    if values["max_active_cards"] < values["cards_included"]:
        raise ValidationFailed("max_active_cards must be at least cards_included")


async def create(db: AsyncSession, values: dict[str, Any], actor: Actor) -> Plan:
    """`values` are column values (cents, basis points)."""
    _check(values)
    if values["is_default"] and values["archived"]:
        raise ArchivedPlanDefault()
    await repo.lock_plans(db)
    if await repo.by_name(db, values["name"]):
        raise PlanNameTaken()
    previous = await repo.clear_default(db, keep=None) if values["is_default"] else None
    plan = Plan(**values)
    db.add(plan)
    await db.flush()
    audit.record(
        db, actor, "plan.create", target_type="plan", target_id=plan.id, details=rendered(plan)
    )
    if previous is not None:
        _record_replaced_default(db, actor, previous, plan)
    return plan


async def update(
    db: AsyncSession, plan_id: uuid.UUID, changes: dict[str, Any], actor: Actor
) -> Plan:
    """Apply the given column values; the audit entry has each changed field, before and after."""
    if not changes:
        raise EmptyUpdate()
    await repo.lock_plans(db)
    plan = await get(db, plan_id)
    after = {column: changes.get(column, getattr(plan, column)) for column in _COLUMNS}
    _check(after)
    if after["is_default"] and after["archived"]:
        raise DefaultPlanArchived() if plan.is_default else ArchivedPlanDefault()
    name = changes.get("name")
    if name is not None and name != plan.name and await repo.by_name(db, name):
        raise PlanNameTaken()
    changed = {c: v for c, v in changes.items() if getattr(plan, c) != v}
    if not changed:
        return plan
    before = rendered(plan)
    previous = None
    if changed.get("is_default"):
        previous = await repo.clear_default(db, keep=plan.id)
    for column, value in changed.items():
        setattr(plan, column, value)
    await db.flush()
    now = rendered(plan)
    details = {k: {"from": before[k], "to": now[k]} for k in now if before[k] != now[k]}
    details.pop("updated_at", None)
    details.pop("monthly_fee_usd", None)
    details.pop("card_issue_fee_usd", None)
    audit.record(
        db, actor, _action(changed), target_type="plan", target_id=plan.id, details=details
    )
    if previous is not None:
        _record_replaced_default(db, actor, previous, plan)
    return plan


_COLUMNS = (
    "name",
    "bullets",
    "monthly_fee",
    "cards_included",
    "max_active_cards",
    "card_issue_fee",
    "topup_fee_bps",
    "fx_fee_bps",
    "hidden_from_home",
    "sort_order",
    "is_default",
    "archived",
)


def _action(changed: dict[str, Any]) -> str:
    if set(changed) == {"archived"}:
        return "plan.archive" if changed["archived"] else "plan.unarchive"
    if set(changed) == {"is_default"}:
        return "plan.set_default" if changed["is_default"] else "plan.unset_default"
    return "plan.update"


def _record_replaced_default(db: AsyncSession, actor: Actor, previous: Plan, new: Plan) -> None:
    audit.record(
        db,
        actor,
        "plan.unset_default",
        target_type="plan",
        target_id=previous.id,
        details={"replaced_by": str(new.id), "replaced_by_name": new.name},
    )


# The EUR/USD rate


async def rate(db: AsyncSession) -> FxRate | None:
    """The latest rate an operator set, with who and when; None before any."""
    return await repo.latest_rate(db)


async def rate_history(db: AsyncSession, paging: PageQuery) -> Page[FxRate]:
    """The rates set so far, newest first: the current one, then its history."""
    rows, total = await repo.rate_history(db, paging.offset, paging.limit)
    return Page(items=rows, page=paging.page, limit=paging.limit, total=total)


async def current_rate(db: AsyncSession) -> Decimal:
    """The USD price of one EUR, exactly as set. FX_RATE_NOT_SET (409) before any is set."""
    latest = await repo.latest_rate(db)
    if latest is None:
        raise FxRateNotSet()
    return rate_decimal(latest.eur_usd_micros)


async def set_rate(db: AsyncSession, eur_usd_micros: int, actor: Actor) -> FxRate:
    """A new current rate; the earlier ones stay as its history."""
    previous = await repo.latest_rate(db)
    row = await repo.add_rate(
        db, FxRate(eur_usd_micros=eur_usd_micros, operator_id=actor.operator_id, set_by=actor.label)
    )
    audit.record(
        db,
        actor,
        "fx_rate.update",
        target_type="fx_rate",
        target_id=row.id,
        details={
            "eur_usd": format_rate(eur_usd_micros),
            "previous": format_rate(previous.eur_usd_micros) if previous else None,
        },
    )
    return row
