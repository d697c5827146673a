"""The runway: (issuer balance - pending settlements - holds) / average daily spend of 7 days,
per currency, the smaller one, exact in Decimal; null with a reason; the override."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from paywarden.audit.context import CLI
from paywarden.kit.time import utcnow
from paywarden.treasury import service
from paywarden.treasury.schemas import EstimatesOut
from paywarden.treasury.service import BalanceStatus, IssuerStatus
from tests.card_transaction_review.test_card_transactions import create_card, create_tx
from tests.clients.test_auth import make_client
from tests.issuer.stack import IssuerStack
from tests.treasury.conftest import MILLION, fixed_spend


def status_with(eur: int | None, usd: int | None) -> IssuerStatus:
    now = utcnow()
    return IssuerStatus(
        issuer="sandbox",
        balances={
            "EUR": BalanceStatus(eur, now if eur is not None else None),
            "USD": BalanceStatus(usd, now if usd is not None else None),
        },
        checked_at=now,
        provider_status="ok",
        error=None,
    )


def test_the_runway_per_currency_and_the_smaller_one() -> None:
    runway = service.compute_runway(
        balances={"EUR": 100_000_000, "USD": 100_000_000},
        pending={"EUR": 12_000, "USD": 0},
        holds={"EUR": 88_000, "USD": 0},
        outflow={"EUR": 3_000_000, "USD": 70_000_000},
    )
    # EUR: (1,000,000.00 - 120.00 - 880.00) / (30,000.00 / 7) = 233.1 days
    assert runway.by_currency == {"EUR": Decimal("233.10"), "USD": Decimal("10.00")}
    assert runway.days == Decimal("10.00")
    assert runway.reason is None


def test_the_runway_is_rounded_down_and_never_negative() -> None:
    runway = service.compute_runway(
        balances={"EUR": 200, "USD": 100},
        pending={"EUR": 0, "USD": 500},
        holds={"EUR": 0, "USD": 0},
        outflow={"EUR": 300, "USD": 300},
    )
    assert runway.by_currency == {"EUR": Decimal("4.66"), "USD": Decimal("0.00")}  # 4.666…
    assert runway.days == Decimal("0.00")


def test_null_with_a_reason() -> None:
    zero = {"EUR": 0, "USD": 0}
    no_outflow = service.compute_runway({"EUR": 100, "USD": 100}, zero, zero, zero)
    assert no_outflow.days is None
    assert no_outflow.reason == "no outflow in the last 7 days"
    no_balance = service.compute_runway({"EUR": None, "USD": None}, zero, zero, {"EUR": 70})
    assert no_balance.days is None
    assert no_balance.reason == "no issuer balance"
    never_read = service.compute_runway({"EUR": None, "USD": None}, zero, zero, zero)
    assert never_read.reason == "no issuer balance"
    # USD spends but its balance is unknown; EUR has no outflow: nothing to show.
    mixed = service.compute_runway({"EUR": 100, "USD": None}, zero, zero, {"USD": 70})
    assert (mixed.days, mixed.reason) == (None, "no issuer balance")
    # A currency that spends and has a balance gives the runway whatever the other does.
    one = service.compute_runway({"EUR": 700, "USD": None}, zero, zero, {"EUR": 70, "USD": 70})
    assert (one.days, one.reason) == (Decimal("70.00"), None)


async def test_the_view_with_the_saved_estimates_and_an_override(
    issuer_stack: IssuerStack,
) -> None:
    db_ = issuer_stack.db
    calls: list[tuple[datetime, int]] = []
    spend = fixed_spend({"EUR": 3_000_000, "USD": 70_000_000}, calls)
    now = utcnow()
    async with db_.transaction() as db:
        await service.save_estimates(
            db,
            {"pending_settlements": {"EUR": "120.00"}, "provider_holds": {"EUR": "880"}},
            CLI,
        )
        view = await service.estimates_view(
            db, status_with(MILLION, MILLION), issuer_stack.settings.tz, now, spend=spend
        )
    assert calls == [(now, 7)]
    out = EstimatesOut.of(view).model_dump()
    assert out["pending_settlements"] == {"EUR": "120.00", "USD": "0.00"}
    assert out["provider_holds"] == {"EUR": "880.00", "USD": "0.00"}
    assert out["runway_by_currency"] == {"EUR": "233.10", "USD": "10.00"}
    assert out["runway_days"] == out["runway_computed_days"] == "10.00"
    assert out["runway_source"] == "computed"
    assert out["runway_reason"] is None

    async with db_.transaction() as db:
        await service.save_estimates(db, {"runway_days_override": 12}, CLI)
        view = await service.estimates_view(
            db, status_with(MILLION, MILLION), issuer_stack.settings.tz, now, spend=spend
        )
    out = EstimatesOut.of(view).model_dump()
    assert out["runway_days"] == "12.00"  # the operators' figure is what runway_days shows
    assert out["runway_computed_days"] == "10.00"  # the computed one is still reported
    assert out["runway_source"] == "override"
    assert out["runway_days_override"] == 12
    assert out["pending_settlements"]["EUR"] == "120.00"  # kept from the save before

    async with db_.transaction() as db:
        view = await service.estimates_view(
            db, status_with(None, None), issuer_stack.settings.tz, now, spend=spend
        )
    out = EstimatesOut.of(view).model_dump()
    assert out["runway_days"] == "12.00"
    assert out["runway_computed_days"] is None
    assert out["runway_reason"] == "no issuer balance"


async def test_the_outflow_comes_from_the_card_spend_rollups(issuer_stack: IssuerStack) -> None:
    db_ = issuer_stack.db
    ann = await make_client(db_, "tg_4242")
    eur = await create_card(db_, ann)
    now = utcnow()
    await create_tx(db_, eur, status="settled", amount=1000, settled_amount=900, created_at=now)
    await create_tx(db_, eur, status="declined", decline_reason="do_not_honor", created_at=now)
    async with db_.transaction() as db:
        view = await service.estimates_view(
            db, status_with(MILLION, MILLION), issuer_stack.settings.tz, now
        )
    assert view.outflow_7d == {"EUR": 900, "USD": 0}
    # 1,000,000.00 / (9.00 / 7) = 777,777.777… days
    assert view.runway.by_currency == {"EUR": Decimal("777777.77"), "USD": None}
    assert view.runway_days == Decimal("777777.77")
