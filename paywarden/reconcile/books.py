"""The cards side of the reconciliation: top-up credits and the ledger with the issuer float."""

from __future__ import annotations

from paywarden.kit.db import Database
from paywarden.kit.time import iso
from paywarden.models.ledger import CLIENT, FEE_REVENUE, FX, USD, USDT, USDT_RECEIVED
from paywarden.models.orders import PAID
from paywarden.models.topups import CREDITED
from paywarden.reconcile import repository as repo
from paywarden.reconcile.findings import Check, Progress
from paywarden.reconcile.options import Options, pages, quiet, reading
from paywarden.wallets import service as wallets

BPS = 10_000


def plan_fee(gross: int, bps: int) -> int:
    """The top-up fee on `gross` cents, rounded up: topups.service.credit_for's rule."""
    return -(-gross * bps // BPS)


async def topups(db: Database, opt: Options, progress: Progress = quiet) -> Check:
    """A credited top-up has exactly one `topup` transaction (key `topup:<order>`), whose legs
    are the row's figures and whose fee a plan's rate gives; an uncredited one has none, and its
    order is not paid. Plans change: the fee may be any plan's rate, not only today's."""
    check = Check("topups")
    async with reading(db) as session:
        rates = await repo.plan_fee_bps(session) or {0}
    async for page, (credits, legs) in pages(
        db,
        lambda s, last: repo.topups_page(s, opt.since, last),
        key=lambda row: row[0].id,
        extra=repo.topup_credits,
    ):
        for topup, order in page:
            ids = {"topup_id": topup.id, "order_id": order.id}
            entries = credits.get(str(order.id), [])
            if topup.status != CREDITED:
                if entries:
                    check.add("topup_credit_unexpected", ids, expected=0, actual=len(entries))
                if order.status in PAID and order.amount_received > 0:
                    check.add("topup_not_credited", ids, expected=CREDITED, actual=topup.status)
                continue
            if len(entries) != 1:
                check.add("topup_credit_count", ids, expected=1, actual=len(entries))
                continue
            entry = entries[0]
            ids["transaction_id"] = entry.id
            if entry.id != topup.transaction_id or entry.idempotency_key != f"topup:{order.id}":
                check.add(
                    "topup_credit_mismatch",
                    ids,
                    expected=[str(topup.transaction_id), f"topup:{order.id}"],
                    actual=[str(entry.id), entry.idempotency_key],
                )
            got = _figures(legs.get(entry.id, []))
            want = {
                "received_usdt": topup.received_usdt or 0,
                "gross_cents": topup.gross_cents or 0,
                "fee_cents": topup.fee_cents or 0,
                "credited_cents": topup.credited_cents or 0,
            }
            if got != want or want["credited_cents"] != want["gross_cents"] - want["fee_cents"]:
                check.add("topup_postings_mismatch", ids, expected=want, actual=got)
            if (topup.received_usdt or 0) > order.amount_received:
                check.add(
                    "topup_received_mismatch",
                    ids,
                    expected=order.amount_received,
                    actual=topup.received_usdt,
                )
            fees = {plan_fee(topup.gross_cents or 0, bps) for bps in rates}
            if topup.fee_cents not in fees:
                check.add("topup_fee_mismatch", ids, expected=sorted(fees), actual=topup.fee_cents)
        check.tick(len(page), progress)
    return check


def _figures(legs: list[repo.Leg]) -> dict[str, int]:
    """A topup transaction's legs as the top-up row's figures (a zero leg is left out)."""
    figures = {"received_usdt": 0, "gross_cents": 0, "fee_cents": 0, "credited_cents": 0}
    for kind, code, currency, amount in legs:
        if (code, currency) == (USDT_RECEIVED, USDT):
            figures["received_usdt"] -= amount
        elif (code, currency) == (FX, USD):
            figures["gross_cents"] -= amount
        elif (code, currency) == (FEE_REVENUE, USD):
            figures["fee_cents"] += amount
        elif kind == CLIENT and currency == USD:
            figures["credited_cents"] += amount
    return figures


async def ledger(db: Database) -> Check:
    """`paywarden ledger check` (wallets.service.check) as differences; and, as notes, the
    issuer's balances beside the issuer_float account: with no record of how much the float
    was funded with, we show `available + issuer_float + held` (the implied funding), constant
    unless the issuer charges fees we do not book."""
    check = Check("ledger")
    async with reading(db) as session:
        report = await wallets.check(session)
        check.checked = await repo.ledger_size(session)
        balances = await repo.issuer_balances(session)
        floats = await repo.float_balances(session)
        held = await repo.held_on_wallets(session)
    for b in report.balances:
        check.add("ledger_balance", {"account_id": b.account_id}, b.computed, b.cached)
    for tx, currency, total in report.unbalanced:
        check.add("ledger_unbalanced", {"transaction_id": tx, "currency": currency}, 0, total)
    for posting, theirs, ours in report.currency_mismatches:
        check.add("ledger_currency", {"posting_id": posting}, ours, theirs)
    for tx in report.incomplete:
        check.add("ledger_incomplete", {"transaction_id": tx}, 2, "<2")
    for b in balances:
        if b.amount is None:
            continue
        ours = floats.get(b.currency, 0) + held.get(b.currency, 0)
        check.note(
            "issuer_float",
            {"issuer": b.issuer, "currency": b.currency},
            expected={"issuer_float": floats.get(b.currency, 0), "held": held.get(b.currency, 0)},
            actual={
                "available": b.amount,
                "implied_funding": b.amount + ours,
                "checked_at": iso(b.checked_at),
            },
        )
    return check
