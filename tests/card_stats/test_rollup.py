"""The rollup the triggers keep equals a rebuild from the rows, after any mix of writes: ORM
inserts and updates, bulk UPDATEs (codes expired by the worker), ledger postings, closings."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update

from paywarden.card_stats import service as stats
from paywarden.card_stats import sql
from paywarden.card_transactions import repository as tx_repo
from paywarden.kit.db import Database
from paywarden.models import Card, CardTransaction, Code3ds
from paywarden.models.ledger import FEE_REVENUE, FX
from paywarden.wallets import service as wallets
from paywarden.wallets.service import Leg
from tests.card_transaction_review.test_card_transactions import create_card, create_tx
from tests.clients.test_auth import make_client

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
STATUSES = ("approved", "declined", "settled", "reversed", "refunded", "expired")
REASONS = ("insufficient_funds", "do_not_honor", "3ds_failed", "card_inactive", None)


async def topup(db: Database, client_id: uuid.UUID, net: int, fee: int, kind: str) -> None:
    key = f"test:{uuid.uuid4()}"
    async with db.transaction() as session:
        legs = [
            Leg(await wallets.wallet(session, client_id, "USD"), "USD", net),
            Leg(
                await wallets.system_account(session, FX, "USD", spread_key=key), "USD", -net - fee
            ),
        ]
        if fee:
            fees = await wallets.system_account(session, FEE_REVENUE, "USD", spread_key=key)
            legs.append(Leg(fees, "USD", fee))
        await wallets.post(session, kind, key, legs)


async def mixed_writes(db: Database, seed: int) -> None:
    rnd = random.Random(seed)
    clients = [await make_client(db, f"tg_{seed}0{i}") for i in range(3)]
    cards = [
        await create_card(db, rnd.choice(clients), rnd.choice(("EUR", "USD"))) for _ in range(5)
    ]
    txs: list[CardTransaction] = []
    for step in range(60):
        moment = START + timedelta(minutes=37 * step)
        action = rnd.randrange(6)
        if action <= 1 or not txs:
            status = rnd.choice(STATUSES)
            txs.append(
                await create_tx(
                    db,
                    rnd.choice(cards),
                    status=status,
                    decline_reason=rnd.choice(REASONS) if status == "declined" else None,
                    amount=rnd.randrange(1, 50_000),
                    created_at=moment,
                )
            )
        elif action == 2:  # a status change, a settlement for another amount, a refund
            tx = rnd.choice(txs)
            async with db.transaction() as session:
                row = await session.get(CardTransaction, tx.id)
                assert row is not None
                row.status = rnd.choice(STATUSES)
                row.settled_amount = rnd.choice((None, rnd.randrange(1, 60_000)))
                row.refunded_amount = rnd.randrange(0, 500)
        elif action == 3:  # a 3-D Secure code, later expired in bulk by the worker's statement
            card = rnd.choice(cards)
            async with db.transaction() as session:
                session.add(
                    Code3ds(
                        card_id=card.id,
                        client_id=card.client_id,
                        issuer="sandbox",
                        issuer_reference=f"ref_{uuid.uuid4().hex}",
                        code=None,
                        amount=100,
                        currency=card.currency,
                        status=rnd.choice(("pending", "used", "declined")),
                        expires_at=moment + timedelta(minutes=5),
                        created_at=moment,
                    )
                )
            async with db.transaction() as session:
                await tx_repo.expire_codes(session, moment + timedelta(minutes=rnd.choice((1, 9))))
        elif action == 4:
            fee = rnd.choice((0, 150))
            kind = rnd.choice(("topup", "adjustment", "fx"))
            await topup(db, rnd.choice(clients).id, rnd.randrange(100, 90_000), fee, kind)
        else:  # a card closed, frozen, its limit changed
            card = rnd.choice(cards)
            async with db.transaction() as session:
                row = await session.get(Card, card.id)
                assert row is not None
                if row.status != "closed":
                    row.status = rnd.choice(("active", "frozen", "closed"))
                    row.monthly_limit = rnd.randrange(1_000, 500_000)
                    row.closed_at = moment if row.status == "closed" else None


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_triggers_equal_a_rebuild(db: Database, seed: int) -> None:
    await mixed_writes(db, seed)
    async with db.transaction() as session:
        kept = await stats.as_stored(session)
        await stats.rebuild(session)
    async with db.transaction() as session:
        rebuilt = await stats.as_stored(session)
    assert kept == rebuilt
    assert any(v["spend_amount"] for v in rebuilt.values())
    assert any(v["topup_count"] for v in rebuilt.values())
    assert any(v["codes_expired"] for v in rebuilt.values())


async def test_a_rebuild_counts_each_kind_of_row(db: Database) -> None:
    ann = await make_client(db, "tg_1")
    eur = await create_card(db, ann)
    await create_tx(db, eur, status="settled", amount=1000, settled_amount=900, created_at=START)
    await create_tx(db, eur, status="refunded", amount=500, refunded_amount=200, created_at=START)
    await create_tx(db, eur, status="approved", amount=300, created_at=START)
    await create_tx(
        db, eur, status="declined", decline_reason="do_not_honor", amount=70, created_at=START
    )
    await topup(db, ann.id, 10_000, 300, "topup")
    async with db.transaction() as session:
        await session.execute(update(Card).values(created_at=START))
        await stats.rebuild(session)
        stored = await stats.as_stored(session)
    bucket = int(START.timestamp())
    eur_flows = stored[(bucket, "EUR")]
    assert eur_flows["spend_amount"] == 900 + 300 + 300  # settled, refunded less refund, approved
    assert eur_flows["spend_count"] == 3
    assert eur_flows["tx_approved"] == 3
    assert eur_flows["tx_declined"] == eur_flows["declined_do_not_honor"] == 1
    assert eur_flows["cards_created"] == 1
    assert stored[(0, "EUR")]["pending_amount"] == 300
    assert stored[(0, "EUR")]["cards_active"] == 1
    usd = [v for (b, c), v in stored.items() if c == "USD" and b != 0]
    assert sum(v["topup_amount"] for v in usd) == 10_000
    assert sum(v["fee_topup"] for v in usd) == 300


async def test_the_installed_triggers_are_the_definition(db: Database) -> None:
    """A change to the rollup's definition needs a migration that reinstalls the triggers."""
    async with db.transaction() as session:
        dialect = session.bind.dialect.name
        if dialect == "postgresql":
            rows = await session.execute(
                text("SELECT prosrc FROM pg_proc WHERE proname LIKE 'card_stats_%'")
            )
            installed = sorted(r[0].strip() for r in rows)
            expected = sorted(s.split("$$")[1].strip() for s in sql.install(dialect) if "$$" in s)
        else:
            rows = await session.execute(
                text(
                    "SELECT sql FROM sqlite_master"
                    " WHERE type = 'trigger' AND name LIKE 'card_stats_%'"
                )
            )
            installed = sorted(r[0] for r in rows)
            expected = sorted(sql.install(dialect))
    assert installed == expected


def test_days_split_where_the_zone_changes_its_offset() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    pieces = stats.segments(berlin, date(2026, 3, 28), date(2026, 3, 30))
    assert [p.offset for p in pieces] == [3600, 7200]
    assert pieces[0].start == int(datetime(2026, 3, 27, 23, tzinfo=UTC).timestamp())
    assert pieces[0].end == int(datetime(2026, 3, 29, 1, tzinfo=UTC).timestamp())
    assert pieces[1].end == int(datetime(2026, 3, 30, 22, tzinfo=UTC).timestamp())
    kolkata = stats.segments(ZoneInfo("Asia/Kolkata"), date(2026, 1, 1), date(2026, 1, 1))
    assert kolkata == [
        stats.Segment(
            int(datetime(2025, 12, 31, 18, 30, tzinfo=UTC).timestamp()),
            int(datetime(2026, 1, 1, 18, 30, tzinfo=UTC).timestamp()),
            19800,
        )
    ]


async def test_a_day_in_a_half_hour_zone_is_cut_at_its_midnight(db: Database) -> None:
    ann = await make_client(db, "tg_1")
    eur = await create_card(db, ann)
    # 18:29 UTC is 23:59 in Kolkata on 1 January; 18:30 UTC is the 2nd.
    await create_tx(db, eur, amount=100, created_at=datetime(2026, 1, 1, 18, 29, tzinfo=UTC))
    await create_tx(db, eur, amount=200, created_at=datetime(2026, 1, 1, 18, 30, tzinfo=UTC))
    async with db.transaction() as session:
        got = await stats.days(
            session, ZoneInfo("Asia/Kolkata"), date(2026, 1, 1), date(2026, 1, 2)
        )
    assert [d.by_currency["EUR"]["spend_amount"] for d in got] == [100, 200]
    assert [d.day for d in got] == [date(2026, 1, 1), date(2026, 1, 2)]


async def test_compaction_keeps_every_figure(db: Database) -> None:
    await mixed_writes(db, 7)
    async with db.transaction() as session:
        before = await stats.as_stored(session)
        if session.bind.dialect.name == "postgresql":
            # Spread the rows over shards, as concurrent writers would.
            await session.execute(text("UPDATE card_stats SET shard = (bucket / 900) % 8"))
    async with db.transaction() as session:
        await stats.compact(session, datetime.now(UTC) + timedelta(hours=2))
    async with db.transaction() as session:
        assert await stats.as_stored(session) == before
        shards = await session.execute(
            text("SELECT bucket, shard FROM card_stats WHERE shard <> 0")
        )
        assert shards.all() == []
