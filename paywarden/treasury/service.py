"""The issuer float: live balances and health (cached in the database for every replica), our
issuer calls' error rate, the operators' manual estimates and the runway they give, and the
low-float alert.

Services take the session and never commit; the request or the worker pass does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paywarden.audit import service as audit
from paywarden.audit.context import Actor
from paywarden.card_stats.service import spend_over_days
from paywarden.issuer.base import Health, IssuerAdapter, IssuerError
from paywarden.kit.errors import ValidationFailed
from paywarden.kit.logging import get_logger
from paywarden.kit.money import CENT_DECIMALS, format_units, parse_amount
from paywarden.kit.observability import Metrics
from paywarden.kit.time import iso
from paywarden.models import Incident
from paywarden.models import TreasuryEstimate as Estimate
from paywarden.models.incidents import ISSUER_FLOAT_LOW
from paywarden.models.treasury import TREASURY_CURRENCIES
from paywarden.treasury import repository as repo

log = get_logger(__name__)

CURRENCIES = TREASURY_CURRENCIES
# The issuer is asked at most this often, whichever replica or worker asks.
STATUS_TTL = timedelta(seconds=60)
# Each health / balances call gives up after this (the answer waits for neither longer).
CALL_TIMEOUT_SECONDS = 5.0
# Our issuer calls failing this share (percent) of the last hour or more: `degraded`.
DEGRADED_ERROR_RATE = Decimal("5")
# Call counters older than this are pruned by the worker pass (the rate reads one hour).
CALL_COUNTS_KEPT = timedelta(hours=2)
RUNWAY_DAYS = 7  # the outflow average's window
MAX_CENTS = 10**14 - 1  # 12 whole digits, as the issuer adapter's amounts
MAX_OVERRIDE_DAYS = 3650
CARDS_OFF = "no card issuer (ISSUER=none): cards are off"
NO_OUTFLOW = "no outflow in the last 7 days"
NO_BALANCE = "no issuer balance"
ESTIMATES_ACTION = "analytics.estimates.update"

ProviderStatus = Literal["ok", "degraded", "down"]
# spend_over_days(db, tz, now, days) -> cents per currency (paywarden.card_stats.service).
SpendFn = Callable[[AsyncSession, ZoneInfo, datetime, int], Awaitable[Mapping[str, int]]]


# --- issuer status ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceStatus:
    """One currency's issuer balance: the last value read (kept when a later read fails), when
    it was read, and the last read's error (None once a read succeeds)."""

    amount: int | None
    checked_at: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class IssuerStatus:
    issuer: str | None  # the adapter's name; None with ISSUER=none
    balances: dict[str, BalanceStatus]
    checked_at: datetime | None  # when the issuer was last asked (success or not)
    provider_status: ProviderStatus
    error: str | None  # the last refresh's failure, None when it succeeded
    error_at: datetime | None = None
    calls_failed_1h: int = 0
    calls_1h: int = 0


def _unknown_balances() -> dict[str, BalanceStatus]:
    return {c: BalanceStatus(None, None) for c in CURRENCIES}


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def error_rate_1h(db: AsyncSession, now: datetime) -> tuple[int, int]:
    """(failed, total) of our issuer calls in the last hour: the current minute and the 59
    before it, counted by every process (see `paywarden.treasury.calls`)."""
    return await repo.call_totals(db, floor_minute(now) - timedelta(minutes=59))


def provider_status_of(
    health_ok: bool | None, balances_failed: bool, failed: int, total: int
) -> ProviderStatus:
    """`down` when the last health call failed or said not ok; `degraded` when health is ok but
    the balances call failed or at least 5 % of our issuer calls failed over the last hour;
    else `ok`."""
    if not health_ok:
        return "down"
    if balances_failed:
        return "degraded"
    if total and Decimal(failed) * 100 / Decimal(total) >= DEGRADED_ERROR_RATE:
        return "degraded"
    return "ok"


def _describe(exc: BaseException) -> str:
    """An error's text safe to store and show: the adapter's own message for an IssuerError
    (adapters keep keys and card data out of them), else only the exception's type."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {CALL_TIMEOUT_SECONDS:g} s"
    if isinstance(exc, IssuerError):
        return str(exc)[:200] or type(exc).__name__
    return type(exc).__name__


async def _ask(call: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(call, CALL_TIMEOUT_SECONDS)


async def refresh(db: AsyncSession, adapter: IssuerAdapter, now: datetime) -> None:
    """Ask the issuer for its health and balances (at once, each with a timeout) and store the
    outcome: a balance read replaces the stored one; a failed read keeps it and notes the error."""
    health, amounts = await asyncio.gather(
        _ask(adapter.health()), _ask(adapter.balances()), return_exceptions=True
    )
    errors: list[str] = []
    health_ok: bool | None = None
    health_detail: str | None = None
    if isinstance(health, Health):
        health_ok, health_detail = health.ok, health.detail[:255]
        if not health.ok:
            errors.append(f"health: {health.detail[:200]}")
    else:
        assert isinstance(health, BaseException)
        errors.append(f"health: {_describe(health)}")
    balances_failed = not isinstance(amounts, dict)
    for currency in CURRENCIES:
        if isinstance(amounts, dict) and isinstance(amounts.get(currency), int):
            await repo.save_balance(db, adapter.name, currency, amounts[currency], now)
            continue
        if isinstance(amounts, dict):
            problem = "not reported by the issuer"
        else:
            assert isinstance(amounts, BaseException)
            problem = _describe(amounts)
        await repo.save_balance_error(db, adapter.name, currency, problem, now)
    if balances_failed:
        assert isinstance(amounts, BaseException)
        errors.append(f"balances: {_describe(amounts)}")
    await repo.save_status(
        db,
        adapter.name,
        refreshed_at=now,
        health_ok=health_ok,
        health_detail=health_detail,
        error="; ".join(errors)[:500] or None,
        balances_failed=balances_failed,
    )
    if errors:
        log.warning("issuer_status_failed", issuer=adapter.name, error="; ".join(errors))


async def stored_status(db: AsyncSession, issuer: str, now: datetime) -> IssuerStatus:
    """The issuer's status as last stored, without asking it (what /metrics reads)."""
    row = await repo.status_row(db, issuer)
    balances = _unknown_balances()
    for b in await repo.balances(db, issuer):
        if b.currency in balances:
            balances[b.currency] = BalanceStatus(b.amount, b.checked_at, b.error)
    failed, total = await error_rate_1h(db, now)
    if row is None or row.refreshed_at is None:
        return IssuerStatus(issuer, balances, None, "down", "not checked yet", None, failed, total)
    return IssuerStatus(
        issuer=issuer,
        balances=balances,
        checked_at=row.refreshed_at,
        provider_status=provider_status_of(row.health_ok, row.balances_failed, failed, total),
        error=row.error,
        error_at=row.error_at,
        calls_failed_1h=failed,
        calls_1h=total,
    )


async def issuer_status(
    db: AsyncSession, adapter: IssuerAdapter | None, now: datetime
) -> IssuerStatus:
    """The issuer's balances and health, asked anew when the stored snapshot is 60 s old or
    more (or absent), else as stored: one call a minute for all replicas together.

    With ISSUER=none there is no adapter: `provider_status` is `down` with an `error` saying
    cards are off, and no balance (the card routes answer 503 CARDS_DISABLED anyway)."""
    if adapter is None:
        return IssuerStatus(None, _unknown_balances(), None, "down", CARDS_OFF)
    row = await repo.status_row(db, adapter.name)
    stale = row is None or row.refreshed_at is None or now - row.refreshed_at >= STATUS_TTL
    if stale:
        await refresh(db, adapter, now)
    return await stored_status(db, adapter.name, now)


# --- estimates and runway -----------------------------------------------------------------------


@dataclass(frozen=True)
class Estimates:
    """The operators' latest saved figures (zeros and no override until the first save)."""

    pending_settlements: dict[str, int]
    provider_holds: dict[str, int]
    runway_days_override: int | None
    updated_at: datetime | None
    updated_by: str | None

    def as_text(self) -> dict[str, Any]:
        """The figures as the API shows them (and the audit log records them)."""
        return {
            "pending_settlements": {
                c: format_units(v, 2) for c, v in self.pending_settlements.items()
            },
            "provider_holds": {c: format_units(v, 2) for c, v in self.provider_holds.items()},
            "runway_days_override": self.runway_days_override,
        }


@dataclass(frozen=True)
class Runway:
    """Days the issuer float lasts: per currency (None: unknown or no outflow), the smallest,
    and why it is None when it is."""

    by_currency: dict[str, Decimal | None]
    days: Decimal | None
    reason: str | None


@dataclass(frozen=True)
class EstimatesView:
    estimates: Estimates
    runway: Runway  # computed from the balances, the estimates and the outflow
    outflow_7d: dict[str, int] = field(default_factory=dict)

    @property
    def runway_days(self) -> Decimal | None:
        """What the operators see: their override when set, else the computed runway."""
        override = self.estimates.runway_days_override
        return Decimal(override) if override is not None else self.runway.days

    @property
    def runway_source(self) -> Literal["override", "computed"] | None:
        if self.estimates.runway_days_override is not None:
            return "override"
        return "computed" if self.runway.days is not None else None


def _latest(row: Estimate | None) -> Estimates:
    if row is None:
        zero = dict.fromkeys(CURRENCIES, 0)
        return Estimates(dict(zero), dict(zero), None, None, None)
    return Estimates(
        pending_settlements={"EUR": row.pending_eur, "USD": row.pending_usd},
        provider_holds={"EUR": row.holds_eur, "USD": row.holds_usd},
        runway_days_override=row.runway_days_override,
        updated_at=row.created_at,
        updated_by=row.updated_by,
    )


async def current_estimates(db: AsyncSession) -> Estimates:
    return _latest(await repo.latest_estimate(db))


TWO_PLACES = Decimal("0.01")


def compute_runway(
    balances: Mapping[str, int | None],
    pending: Mapping[str, int],
    holds: Mapping[str, int],
    outflow: Mapping[str, int],
    days: int = RUNWAY_DAYS,
) -> Runway:
    """Per currency: (balance - pending settlements - holds) ÷ (outflow over `days` ÷ `days`),
    in Decimal, rounded down to 0.01 (a runway is never overstated) and never below 0 (a float
    already spoken for is 0 days). A currency with no outflow lasts indefinitely and one with
    no known balance cannot be computed; the runway is the smallest of the others. None with a
    reason when no currency gives one: "no issuer balance" when a currency that spends has no
    known balance, else "no outflow in the last 7 days"."""
    by_currency: dict[str, Decimal | None] = {}
    missing_balance = False
    for c in CURRENCIES:
        spent = outflow.get(c, 0)
        balance = balances.get(c)
        if spent <= 0:
            by_currency[c] = None
            continue
        if balance is None:
            missing_balance = True
            by_currency[c] = None
            continue
        available = balance - pending.get(c, 0) - holds.get(c, 0)
        value = Decimal(max(available, 0)) * days / Decimal(spent)
        by_currency[c] = value.quantize(TWO_PLACES, rounding=ROUND_DOWN)
    known = [v for v in by_currency.values() if v is not None]
    if known:
        return Runway(by_currency, min(known), None)
    if missing_balance or all(balances.get(c) is None for c in CURRENCIES):
        return Runway(by_currency, None, NO_BALANCE)
    return Runway(by_currency, None, NO_OUTFLOW)


async def estimates_view(
    db: AsyncSession,
    status: IssuerStatus,
    tz: ZoneInfo,
    now: datetime,
    *,
    spend: SpendFn | None = None,
) -> EstimatesView:
    """The saved estimates with the runway they give against `status`'s balances and the card
    spend of the last 7 days (today and the 6 before, in `tz`). `spend` defaults to the
    rollups' `spend_over_days`."""
    estimates = await current_estimates(db)
    outflow = dict(await (spend or spend_over_days)(db, tz, now, RUNWAY_DAYS))
    balances = {c: status.balances[c].amount for c in CURRENCIES}
    runway = compute_runway(
        balances, estimates.pending_settlements, estimates.provider_holds, outflow
    )
    return EstimatesView(estimates, runway, outflow)


def _parse_money(value: object, what: str) -> int:
    try:
        return parse_amount(value, CENT_DECIMALS, max_units=MAX_CENTS, what=what)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc


def _parse_currencies(value: object, what: str, current: Mapping[str, int]) -> dict[str, int]:
    """`{"EUR": "120.00", "USD": "0.00"}`; a currency left out keeps its current value."""
    if not isinstance(value, dict):
        raise ValidationFailed(f'{what} must be an object like {{"EUR": "120.00", "USD": "0.00"}}')
    unknown = sorted(str(k) for k in value if k not in CURRENCIES)
    if unknown:
        raise ValidationFailed(f"{what}: unknown currency {unknown[0]!r} (EUR or USD)")
    parsed = dict(current)
    for currency, text in value.items():
        parsed[currency] = _parse_money(text, f"{what}.{currency}")
    return parsed


def _parse_override(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed("runway_days_override must be a whole number of days or null")
    if not 0 <= value <= MAX_OVERRIDE_DAYS:
        raise ValidationFailed(f"runway_days_override must be 0 to {MAX_OVERRIDE_DAYS}")
    return value


async def save_estimates(db: AsyncSession, changes: Mapping[str, Any], actor: Actor) -> Estimates:
    """Save a new estimates row from the latest one and `changes` (any of `pending_settlements`,
    `provider_holds` (per currency; a currency left out keeps its value) and
    `runway_days_override` (null clears it)); audited with the old and the new figures. A bad
    value saves nothing: 400 VALIDATION_ERROR."""
    if not changes:
        raise ValidationFailed("give pending_settlements, provider_holds or runway_days_override")
    before = await current_estimates(db)
    pending, holds = before.pending_settlements, before.provider_holds
    override = before.runway_days_override
    if "pending_settlements" in changes:
        pending = _parse_currencies(changes["pending_settlements"], "pending_settlements", pending)
    if "provider_holds" in changes:
        holds = _parse_currencies(changes["provider_holds"], "provider_holds", holds)
    if "runway_days_override" in changes:
        override = _parse_override(changes["runway_days_override"])
    row = Estimate(
        pending_eur=pending["EUR"],
        pending_usd=pending["USD"],
        holds_eur=holds["EUR"],
        holds_usd=holds["USD"],
        runway_days_override=override,
        operator_id=actor.operator_id,
        updated_by=actor.label,
    )
    repo.add_estimate(db, row)
    await db.flush()
    after = _latest(row)
    audit.record(
        db,
        actor,
        ESTIMATES_ACTION,
        target_type="analytics_estimates",
        target_id=row.id,
        details={"old": before.as_text(), "new": after.as_text()},
    )
    return after


async def estimates_history(db: AsyncSession, limit: int = 50) -> list[Estimates]:
    """The saves, newest first."""
    return [_latest(row) for row in await repo.estimate_history(db, limit)]


# --- the low-float alert ------------------------------------------------------------------------


@dataclass(frozen=True)
class TreasuryConfig:
    """The alert's thresholds (ISSUER_RUNWAY_ALERT_DAYS, ISSUER_BALANCE_ALERT_EUR / _USD) and
    the report time zone the outflow's days are counted in."""

    runway_alert_days: Decimal = Decimal("3")
    balance_alerts: Mapping[str, int] = field(default_factory=dict)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


def low_figures(
    status: IssuerStatus, view: EstimatesView, cfg: TreasuryConfig
) -> dict[str, dict[str, Any]]:
    """The figures under their thresholds now: "runway" (the runway operators see, their
    override when set; an unknown runway alerts nothing) and "balance_<CUR>" (the last known
    balance), each with its value and threshold."""
    low: dict[str, dict[str, Any]] = {}
    runway = view.runway_days
    if runway is not None and cfg.runway_alert_days > 0 and runway < cfg.runway_alert_days:
        low["runway"] = {
            "value": f"{runway.quantize(TWO_PLACES):.2f}",
            "threshold": f"{cfg.runway_alert_days.quantize(TWO_PLACES):.2f}",
            "source": view.runway_source,
            "by_currency": {
                c: (f"{v:.2f}" if v is not None else None)
                for c, v in view.runway.by_currency.items()
            },
        }
    for currency, threshold in sorted(cfg.balance_alerts.items()):
        amount = status.balances[currency].amount if currency in status.balances else None
        if amount is not None and amount < threshold:
            low[f"balance_{currency}"] = {
                "currency": currency,
                "value": format_units(amount, CENT_DECIMALS),
                "threshold": format_units(threshold, CENT_DECIMALS),
                "checked_at": iso(status.balances[currency].checked_at),
            }
    return low


async def check_float(
    db: AsyncSession,
    issuer: str,
    status: IssuerStatus,
    view: EstimatesView,
    cfg: TreasuryConfig,
    now: datetime,
) -> Incident | None:
    """Write an `issuer_float_low` incident when a figure has fallen under its threshold since
    the last check (once per crossing: the status row keeps the figures now low; a figure back
    above leaves the set, and its next fall writes a new incident). The row is locked for the
    check, so two workers at once write one incident."""
    row = await repo.lock_status_row(db, issuer)
    low = low_figures(status, view, cfg)
    before = set(row.alerting or [])
    crossed = [name for name in low if name not in before]
    if sorted(low) != sorted(before):
        row.alerting = sorted(low)
    if not crossed:
        return None
    row.alerted_at = now
    incident = Incident(
        created_at=now,
        event_type=ISSUER_FLOAT_LOW,
        payload={
            "issuer": issuer,
            "crossed": crossed,
            "figures": low,
            "thresholds": {
                "runway_days": f"{cfg.runway_alert_days.quantize(TWO_PLACES):.2f}",
                "balances": {
                    c: format_units(v, CENT_DECIMALS) for c, v in sorted(cfg.balance_alerts.items())
                },
            },
        },
    )
    repo.add_incident(db, incident)
    await db.flush()
    log.warning("issuer_float_low", issuer=issuer, crossed=crossed)
    return incident


async def prune_call_counts(db: AsyncSession, now: datetime) -> int:
    return await repo.prune_calls(db, floor_minute(now) - CALL_COUNTS_KEPT)


# --- gauges -------------------------------------------------------------------------------------


def set_gauges(metrics: Metrics, status: IssuerStatus, view: EstimatesView | None) -> None:
    """`paywarden_issuer_balance{currency}` in major units and `paywarden_issuer_runway_days`
    (the runway operators see); NaN while a figure is unknown (never read, no outflow, ...)."""
    for currency, balance in status.balances.items():
        value = (
            float(Decimal(balance.amount).scaleb(-CENT_DECIMALS))
            if balance.amount is not None
            else float("nan")
        )
        metrics.issuer_balance.labels(currency).set(value)
    runway = view.runway_days if view is not None else None
    metrics.issuer_runway_days.set(float(runway) if runway is not None else float("nan"))
