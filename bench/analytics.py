"""Benchmark: the cards analytics (GET /api/v1/admin/analytics/overview and /analytics/daily) on
100,000 clients, 200,000 cards, 1,000,000 card transactions over 90 days and ~2,000,000 ledger
postings, over real HTTP against a real `paywarden serve` on PostgreSQL.

Makes a fresh database (`paywarden_bench_analytics`, dropped and recreated each run), migrates it
with `paywarden migrate`, and bulk-loads it in one session with `session_replication_role =
replica` (no triggers, no FK checks during the load; the big tables' plain indexes dropped and
built again at the end) using `INSERT ... SELECT` over `generate_series` with deterministic
pseudo-random values (`hashint8extended`):

- 3 plans, an EUR/USD rate, the clients (15 % of them "spenders": all the card spend is theirs)
  and their subscriptions; cards (active/frozen/closed, limits, month-to-date spend);
- card transactions over the last 90 days: ~10 % declined across the reasons, some reversed,
  expired and refunded, the last 36 h approved (held, not settled yet), the last minutes' 3-D
  Secure purchases pending; an FX fee on foreign purchases; 3-D Secure codes for ~10 % (the
  code itself only on pending ones, a Fernet token); one issuer event per event-bearing
  transaction (lag_ms, a few failed ones);
- the ledger as the services write it: holds (held/posted/voided), `card_spend` (hold posting
  and the FX-fee rest), `card_refund`, `card_issue_fee` past the plan's included cards,
  monthly `subscription_fee`s, `fx` conversions USD -> EUR and USDT `topup`s (fee leg to
  fee_revenue) sized so every spender's wallets cover what they spent; system accounts in 16
  shards (picked by a hash of the idempotency key); every transaction sums to zero per
  currency; cached balances set from the postings, so `paywarden ledger check` passes.

Then VACUUM ANALYZE, the analytics rollup rebuild (`paywarden.card_stats.service.rebuild`, or
`paywarden analytics rebuild`, whichever exists), an operator with TOTP signs in, and each
endpoint is timed with sequential GETs after a warm-up (`--concurrency N`: also 10 s per
endpoint with N connections, from `wrk` when installed, else httpx). Target: p95 at most
100 ms per endpoint. `--wait M` waits up to M minutes for the endpoints to be written.

    .venv/bin/python bench/analytics.py [--clients 100000] [--cards 200000]
        [--transactions 1000000] [--postings 2000000] [--requests 200] [--concurrency 0]
        [--wait 0] [--skip-ledger-check] [--keep]

A quick run at 1/100: `--clients 1000 --cards 2000 --transactions 10000 --postings 20000`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from paywarden.kit.db import Database

sys.path.insert(0, str(Path(__file__).parent))
from bench_operator import BenchOperator, time_gets
from order_create import (  # the sibling benchmark's server plumbing
    BENCH_KEYS,
    BIN,
    POSTGRES,
    ServerConfig,
    admin_sql,
    fill_address_pool,
    free_port,
    migrate,
    percentile,
    running_server,
    server_env,
    wait_ready,
)

DATABASE = "paywarden_bench_analytics"
OPERATOR = BenchOperator("bench-analytics@example.com")
WARMUP = 20
TARGET_P95_MS = 100.0
DAYS = 90
CONCURRENT_SECONDS = 10
SPENDER_SHARE = 15  # % of clients who own all the card spend
SPENDER_CARD_SHARE = 40  # % of cards that are theirs
EUR_USD_MICROS = 1_085_000  # USD per EUR x 10^6
SHARDS = 16  # as wallets.service.SYSTEM_SHARDS
ENDPOINTS = (
    "/api/v1/admin/analytics/overview?period=today",
    "/api/v1/admin/analytics/overview?period=7d",
    "/api/v1/admin/analytics/overview?period=30d",
    "/api/v1/admin/analytics/overview?period=mtd",
    "/api/v1/admin/analytics/daily?days=30",
    "/api/v1/admin/analytics/daily?days=90",
)


@dataclass(frozen=True)
class Scale:
    clients: int
    cards: int
    transactions: int
    postings: int

    @property
    def spenders(self) -> int:
        return max(1, min(self.clients - 1, self.clients * SPENDER_SHARE // 100))

    @property
    def spender_cards(self) -> int:
        return max(1, min(self.cards - 1, self.cards * SPENDER_CARD_SHARE // 100))


# ---- the load -----------------------------------------------------------------------------

# u(k, salt): a deterministic pseudo-random number in [0, 1) (an inlinable SQL function).
SETUP = """
SET session_replication_role = replica;
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;
CREATE FUNCTION pg_temp.u(k bigint, salt int) RETURNS float8 LANGUAGE sql IMMUTABLE
    PARALLEL SAFE AS
$$ SELECT (hashint8extended(k, salt) & 4503599627370495)::float8 / 4503599627370496.0 $$;
CREATE FUNCTION pg_temp.sys(code text, currency text, key text) RETURNS uuid LANGUAGE sql
    IMMUTABLE PARALLEL SAFE AS
$$ SELECT md5('sys:' || code || ':' || currency || ':' || (abs(hashtext(key)) % 16))::uuid $$;
CREATE FUNCTION pg_temp.wallet(client uuid, currency text) RETURNS uuid LANGUAGE sql
    IMMUTABLE PARALLEL SAFE AS
$$ SELECT md5('wallet:' || client || ':' || currency)::uuid $$;
"""

PLANS = """
CREATE TEMP TABLE bp (n int PRIMARY KEY, id uuid, name text, monthly_fee bigint,
    cards_included int, max_active_cards int, card_issue_fee bigint, topup_bps int,
    fx_bps int);
INSERT INTO bp VALUES
    (1, md5('plan:1')::uuid, 'Start', 0, 2, 3, 500, 300, 200),
    (2, md5('plan:2')::uuid, 'Standard', 990, 3, 10, 300, 200, 150),
    (3, md5('plan:3')::uuid, 'Pro', 2990, 10, 50, 0, 100, 100);
INSERT INTO plans (id, name, bullets, currency, monthly_fee, cards_included, max_active_cards,
    card_issue_fee, topup_fee_bps, fx_fee_bps, hidden_from_home, sort_order, is_default,
    archived, created_at, updated_at)
SELECT id, name, '', 'EUR', monthly_fee, cards_included, max_active_cards, card_issue_fee,
       topup_bps, fx_bps, false, n, n = 1, false, now() - interval '400 days',
       now() - interval '400 days'
FROM bp;
INSERT INTO fx_rates (eur_usd_micros, set_at, set_by)
VALUES ({rate}, now() - interval '100 days', 'cli');
INSERT INTO ledger_accounts (id, kind, client_id, code, shard, currency, balance, created_at)
SELECT md5('sys:' || code || ':' || currency || ':' || shard)::uuid, 'system', NULL, code,
       shard, currency, 0, now() - interval '400 days'
FROM unnest(ARRAY['usdt_received', 'fee_revenue', 'fx', 'rounding', 'issuer_float',
                  'adjustments']) AS code,
     unnest(ARRAY['EUR', 'USD', 'USDT']) AS currency,
     generate_series(0, 15) AS shard;
"""

# bc: the clients by number (1..spenders are the spenders), their plan and creation time.
CLIENTS = """
CREATE TEMP TABLE bc AS
SELECT i, md5('client:' || i)::uuid AS id, i <= {spenders} AS spender,
       CASE WHEN i > {spenders} OR pg_temp.u(i, 3) < 0.7 THEN 1
            WHEN pg_temp.u(i, 3) < 0.9 THEN 2 ELSE 3 END AS plan,
       CASE WHEN i <= {spenders}
            THEN now() - interval '200 days' - pg_temp.u(i, 4) * interval '165 days'
            ELSE now() - pg_temp.u(i, 4) * interval '365 days' END AS created_at
FROM generate_series(1, {clients}) AS i;
ALTER TABLE bc ADD PRIMARY KEY (i);
ANALYZE bc;
INSERT INTO clients (id, external_user_id, display_name, username, language, status,
    can_create_cards, plan_id, plan_since, created_at, last_active_at)
SELECT bc.id,
       CASE WHEN pg_temp.u(i, 5) < 0.8 THEN 'tg_' || (100000000 + i)
            ELSE 'web_' || substr(md5('web:' || i), 1, 16) END,
       'Client ' || i,
       CASE WHEN pg_temp.u(i, 6) < 0.6 THEN 'user_' || i END,
       CASE WHEN pg_temp.u(i, 7) < 0.5 THEN 'en' ELSE 'ru' END,
       CASE WHEN NOT spender AND pg_temp.u(i, 8) < 0.005 THEN 'banned' ELSE 'active' END,
       true, bp.id, bc.created_at, bc.created_at,
       greatest(bc.created_at, now() - pg_temp.u(i, 9) * interval '30 days')
FROM bc JOIN bp ON bp.n = bc.plan;
INSERT INTO subscriptions (id, client_id, plan_id, status, current_period_start,
    current_period_end, fee_charged, fee_currency, last_transaction_id, created_at, updated_at)
SELECT md5('sub:' || i)::uuid, bc.id, bp.id, 'active', s.start, s.start + interval '1 month',
       bp.monthly_fee, CASE WHEN bp.monthly_fee > 0 THEN 'EUR' END,
       CASE WHEN bp.monthly_fee > 0
            THEN md5('subfee:' || bc.id || ':' || s.start)::uuid END,
       bc.created_at, s.start
FROM bc JOIN bp ON bp.n = bc.plan,
     LATERAL (SELECT date_trunc('second',
                     now() - pg_temp.u(i, 10) * interval '30 days') AS start) AS s;
"""

# bk: the cards by number (1..spender_cards belong to the spenders), owner and ordinal.
CARDS = """
CREATE TEMP TABLE bk AS
SELECT j, md5('card:' || j)::uuid AS id,
       CASE WHEN j <= {spender_cards} THEN (j - 1) % {spenders} + 1
            ELSE {spenders} + 1 + (j - {spender_cards} - 1) % ({clients} - {spenders}) END AS ci,
       CASE WHEN j <= {spender_cards} THEN (j - 1) / {spenders}
            ELSE (j - {spender_cards} - 1) / ({clients} - {spenders}) END AS ordinal,
       CASE WHEN pg_temp.u(j, 2) < 0.7 THEN 'EUR' ELSE 'USD' END AS currency
FROM generate_series(1, {cards}) AS j;
ALTER TABLE bk ADD PRIMARY KEY (j);
ANALYZE bk;
INSERT INTO cards (id, client_id, issuer, issuer_card_id, currency, monthly_limit, spend_month,
    spent_this_month, status, last4, label, issue_fee, issue_transaction_id, created_at,
    updated_at, closed_at)
SELECT id, client_id, 'sandbox', 'card_' || substr(md5('issuer-card:' || j), 1, 24), currency,
       (ARRAY[50000, 100000, 250000, 500000, 1000000])[1 + (pg_temp.u(j, 11) * 5)::int % 5],
       NULL, 0, status, lpad((j % 10000)::text, 4, '0'),
       (ARRAY[NULL, 'Ads', 'Travel', 'Subscriptions', 'Shopping'])[1 + (j % 5)],
       issue_fee, CASE WHEN issue_fee > 0 THEN md5('issue:' || id)::uuid END,
       created_at, coalesce(closed_at, created_at), closed_at
FROM (
    SELECT bk.j, bk.id, bc.id AS client_id, bk.currency, g.status, g.created_at,
           CASE WHEN g.status = 'closed'
                THEN g.created_at + pg_temp.u(bk.j, 12) * (now() - g.created_at) END
               AS closed_at,
           CASE WHEN bc.spender AND bk.ordinal >= bp.cards_included
                THEN bp.card_issue_fee ELSE 0 END AS issue_fee
    FROM bk JOIN bc ON bc.i = bk.ci JOIN bp ON bp.n = bc.plan,
         LATERAL (SELECT
             CASE WHEN bc.spender
                  THEN CASE WHEN pg_temp.u(bk.j, 13) < 0.05 THEN 'frozen' ELSE 'active' END
                  ELSE CASE WHEN pg_temp.u(bk.j, 13) < 0.2 THEN 'closed'
                            WHEN pg_temp.u(bk.j, 13) < 0.25 THEN 'frozen'
                            ELSE 'active' END END AS status,
             CASE WHEN bc.spender
                  THEN now() - interval '91 days' - pg_temp.u(bk.j, 14) * interval '100 days'
                  ELSE bc.created_at + pg_temp.u(bk.j, 14) * (now() - bc.created_at) END
                 AS created_at) AS g
) AS c;
"""

MERCHANTS = (
    "('AMAZON MKTPLACE', '5942', 'LU'), ('GOOGLE *ADS', '7311', 'IE'), "
    "('FACEBK *ADS', '7311', 'IE'), ('APPLE.COM/BILL', '5818', 'IE'), "
    "('NETFLIX.COM', '4899', 'NL'), ('SPOTIFY', '5815', 'SE'), ('UBER *TRIP', '4121', 'NL'), "
    "('BOOKING.COM', '4722', 'NL'), ('AIRBNB', '7011', 'IE'), ('STEAM PURCHASE', '5816', 'DE'), "
    "('OPENAI *CHATGPT', '5734', 'US'), ('DIGITALOCEAN', '7372', 'US'), "
    "('AWS EMEA', '7372', 'LU'), ('ALIEXPRESS', '5999', 'NL'), ('LIDL', '5411', 'DE'), "
    "('SHELL', '5541', 'NL'), ('RYANAIR', '4511', 'IE'), ('ZARA', '5651', 'ES'), "
    "('TIKTOK ADS', '7311', 'SG'), ('NAMECHEAP', '4816', 'US')"
)

# Statuses: 10 % declined, 2 % reversed, 0.5 % expired, 2.5 % refunded, the rest settled; the
# last 36 h of would-be settlements (and 7 d of would-be expiries) still approved; 3-D Secure
# purchases of the last 10 minutes pending.
TRANSACTIONS = """
CREATE TEMP TABLE bm AS
SELECT row_number() OVER () AS n, * FROM (VALUES {merchants}) AS m (name, mcc, country);
INSERT INTO card_transactions (id, card_id, client_id, issuer, issuer_transaction_id, status,
    decline_reason, raw_code, amount, currency, fx_fee, merchant_amount, merchant_currency,
    merchant, mcc, country, three_ds, hold_id, settled_amount, refunded_amount, created_at,
    updated_at, settled_at)
SELECT id, card_id, client_id, 'sandbox', 'tx_' || md5('issuer-tx:' || k), status,
       CASE WHEN status = 'declined' THEN reason END,
       CASE WHEN status = 'declined'
            THEN CASE reason WHEN 'insufficient_funds' THEN '51' WHEN 'do_not_honor' THEN '05'
                             WHEN '3ds_failed' THEN '1A' WHEN 'card_inactive' THEN '62'
                             WHEN 'spending_limit' THEN '61' WHEN 'suspected_fraud' THEN '59'
                             ELSE '57' END
            ELSE '00' END,
       base + fee, currency, fee,
       CASE WHEN NOT foreign_ THEN base
            WHEN currency = 'EUR' THEN base * {rate} / 1000000
            ELSE base * 1000000 / {rate} END,
       CASE WHEN NOT foreign_ THEN currency WHEN currency = 'EUR' THEN 'USD' ELSE 'EUR' END,
       bm.name, bm.mcc, bm.country, three_ds,
       CASE WHEN status IN ('approved', 'settled', 'refunded', 'reversed', 'expired')
            THEN md5('hold:' || id)::uuid END,
       CASE WHEN status IN ('settled', 'refunded') THEN base + fee END,
       CASE WHEN status = 'refunded'
            THEN CASE WHEN pg_temp.u(k, 17) < 0.6 THEN base + fee
                      ELSE greatest(1, (base + fee) / 2) END
            ELSE 0 END,
       created_at,
       CASE WHEN status IN ('settled', 'refunded') THEN settled_at
            WHEN status IN ('reversed', 'expired') THEN released_at ELSE created_at END,
       CASE WHEN status IN ('settled', 'refunded') THEN settled_at END
FROM (
    SELECT g.*,
           CASE WHEN foreign_ THEN (base * bp.fx_bps + 9999) / 10000 ELSE 0 END AS fee,
           CASE WHEN three_ds AND status0 <> 'declined' AND created_at > now() - interval '10 min'
                     THEN 'pending'
                WHEN status0 IN ('settled', 'refunded') AND created_at > now() - interval '36 h'
                     THEN 'approved'
                WHEN status0 = 'expired' AND created_at > now() - interval '7 days'
                     THEN 'approved'
                WHEN status0 = 'reversed' AND created_at > now() - interval '6 h'
                     THEN 'approved'
                ELSE status0 END AS status,
           created_at + (0.5 + pg_temp.u(k, 18)) * interval '1 day' AS settled_at,
           CASE WHEN status0 = 'expired' THEN created_at + interval '7 days'
                ELSE created_at + pg_temp.u(k, 19) * interval '6 hours' END AS released_at
    FROM (
        SELECT k, md5('tx:' || k)::uuid AS id, bk.id AS card_id, bc.id AS client_id,
               bk.currency, bc.plan,
               now() - ((k - 1) + pg_temp.u(k, 20)) * {step} * interval '1 second'
                   AS created_at,
               CASE WHEN s < 0.10 THEN 'declined' WHEN s < 0.12 THEN 'reversed'
                    WHEN s < 0.125 THEN 'expired' WHEN s < 0.15 THEN 'refunded'
                    ELSE 'settled' END AS status0,
               CASE WHEN r < 0.40 THEN 'insufficient_funds' WHEN r < 0.60 THEN 'do_not_honor'
                    WHEN r < 0.75 THEN '3ds_failed' WHEN r < 0.80 THEN 'card_inactive'
                    WHEN r < 0.90 THEN 'spending_limit' WHEN r < 0.95 THEN 'suspected_fraud'
                    ELSE 'other' END AS reason,
               pg_temp.u(k, 14) < 0.04 AS foreign_,
               500 + floor(-ln(1 - pg_temp.u(k, 15)) * 3000)::bigint AS base,
               pg_temp.u(k, 16) < 0.10 OR (s < 0.10 AND r >= 0.60 AND r < 0.75) AS three_ds,
               1 + (pg_temp.u(k, 21) * 20)::int % 20 AS m
        FROM (
            SELECT k, pg_temp.u(k, 12) AS s, pg_temp.u(k, 13) AS r,
                   1 + (pg_temp.u(k, 1) * {spender_cards})::int % {spender_cards} AS j
            FROM generate_series(1, {transactions}) AS k
        ) AS t
        JOIN bk ON bk.j = t.j JOIN bc ON bc.i = bk.ci
    ) AS g JOIN bp ON bp.n = g.plan
) AS x JOIN bm ON bm.n = x.m;
"""

# Holds of every authorized purchase; the spend, its FX-fee rest and refunds on the ledger.
CARD_LEDGER = """
INSERT INTO ledger_holds (id, account_id, amount, status, reference_type, reference_id,
    transaction_id, posted_amount, created_at, closed_at)
SELECT hold_id, pg_temp.wallet(client_id, currency), amount,
       CASE WHEN status = 'approved' THEN 'held'
            WHEN status IN ('settled', 'refunded') THEN 'posted' ELSE 'voided' END,
       'card_transaction', id::text,
       CASE WHEN status IN ('settled', 'refunded') THEN md5('spend:' || id)::uuid END,
       CASE WHEN status IN ('settled', 'refunded') THEN amount - fx_fee END,
       created_at,
       CASE WHEN status <> 'approved' THEN updated_at END
FROM card_transactions WHERE hold_id IS NOT NULL;

INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT md5('spend:' || id)::uuid, 'card_spend', 'card_spend:' || id, 'card_transaction',
       id::text, NULL, 'issuer', settled_at
FROM card_transactions WHERE status IN ('settled', 'refunded');
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), md5('spend:' || id)::uuid, leg.account_id, currency, leg.amount,
       settled_at
FROM card_transactions,
     LATERAL (VALUES (pg_temp.wallet(client_id, currency), -(amount - fx_fee)),
                     (pg_temp.sys('issuer_float', currency, 'card_spend:' || id),
                      amount - fx_fee)) AS leg (account_id, amount)
WHERE status IN ('settled', 'refunded');

INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT md5('spend-rest:' || id)::uuid, 'card_spend', 'card_spend:' || id || ':rest',
       'card_transaction', id::text, 'FX fee', 'issuer', settled_at
FROM card_transactions WHERE status IN ('settled', 'refunded') AND fx_fee > 0;
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), md5('spend-rest:' || id)::uuid, leg.account_id, currency,
       leg.amount, settled_at
FROM card_transactions,
     LATERAL (VALUES (pg_temp.wallet(client_id, currency), -fx_fee),
                     (pg_temp.sys('fee_revenue', currency, 'card_spend:' || id || ':rest'),
                      fx_fee)) AS leg (account_id, amount)
WHERE status IN ('settled', 'refunded') AND fx_fee > 0;

CREATE TEMP TABLE brf AS
SELECT id, client_id, currency, refunded_amount,
       least(settled_at + interval '2 days', now() - interval '1 hour') AS at
FROM card_transactions WHERE status = 'refunded';
UPDATE card_transactions t SET updated_at = brf.at FROM brf WHERE t.id = brf.id;
INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT md5('refund:' || id)::uuid, 'card_refund', 'card_refund:sandbox:rf_' || md5('rf:' || id),
       'card_transaction', id::text, NULL, 'issuer', at
FROM brf;
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), md5('refund:' || id)::uuid, leg.account_id, currency, leg.amount, at
FROM brf,
     LATERAL (VALUES (pg_temp.sys('issuer_float', currency,
                                  'card_refund:sandbox:rf_' || md5('rf:' || id)),
                      -refunded_amount),
                     (pg_temp.wallet(client_id, currency), refunded_amount))
         AS leg (account_id, amount);
"""

# Card issue fees and monthly subscription fees, from the EUR wallet to fee revenue.
FEES = """
INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT issue_transaction_id, 'card_issue_fee', 'card_issue:' || id, 'card', id::text,
       'card issue fee', 'client', created_at
FROM cards WHERE issue_fee > 0;
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), issue_transaction_id, leg.account_id, 'EUR', leg.amount, created_at
FROM cards,
     LATERAL (VALUES (pg_temp.wallet(client_id, 'EUR'), -issue_fee),
                     (pg_temp.sys('fee_revenue', 'EUR', 'card_issue:' || id), issue_fee))
         AS leg (account_id, amount)
WHERE issue_fee > 0;

CREATE TEMP TABLE bsf AS
SELECT md5('subfee:' || s.client_id || ':' || p.start)::uuid AS id, s.client_id, s.plan_id,
       s.fee_charged AS fee, p.start,
       'subscription:' || s.client_id || ':' || to_char(p.start AT TIME ZONE 'UTC',
                                                       'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') AS key
FROM subscriptions s,
     LATERAL (SELECT s.current_period_start - m * interval '1 month' AS start
              FROM generate_series(0, 2) AS m) AS p
WHERE s.fee_charged > 0;
INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT id, 'subscription_fee', key, 'plan', plan_id::text, 'monthly fee', 'system', start
FROM bsf;
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), bsf.id, leg.account_id, 'EUR', leg.amount, start
FROM bsf,
     LATERAL (VALUES (pg_temp.wallet(client_id, 'EUR'), -fee),
                     (pg_temp.sys('fee_revenue', 'EUR', key), fee)) AS leg (account_id, amount);
"""

# What each spender's wallets must receive: what left them, what is still held, a margin.
NEEDS = """
CREATE TEMP TABLE bw AS
SELECT account_id, sum(amount)::bigint AS total FROM ledger_postings GROUP BY account_id;
CREATE TEMP TABLE bh AS
SELECT account_id, sum(amount)::bigint AS held FROM ledger_holds WHERE status = 'held'
GROUP BY account_id;
CREATE TEMP TABLE bn AS
SELECT bc.i, bc.id AS client_id, bc.created_at, bp.topup_bps, bp.fx_bps,
       greatest(0, -coalesce(we.total, 0) + coalesce(he.held, 0))
           + 1000 + (pg_temp.u(bc.i, 30) * 20000)::bigint AS need_eur,
       greatest(0, -coalesce(wu.total, 0) + coalesce(hu.held, 0))
           + 1000 + (pg_temp.u(bc.i, 31) * 20000)::bigint AS need_usd
FROM bc JOIN bp ON bp.n = bc.plan
LEFT JOIN bw we ON we.account_id = pg_temp.wallet(bc.id, 'EUR')
LEFT JOIN bh he ON he.account_id = pg_temp.wallet(bc.id, 'EUR')
LEFT JOIN bw wu ON wu.account_id = pg_temp.wallet(bc.id, 'USD')
LEFT JOIN bh hu ON hu.account_id = pg_temp.wallet(bc.id, 'USD')
WHERE bc.spender;
"""

# One conversion USD -> EUR per spender: net N to the EUR wallet, fee F, gross G = N + F, paid
# with A = G at the rate (rounded up) from the USD wallet.
FX = """
CREATE TEMP TABLE bfx AS
SELECT i, client_id, n, f, n + f AS g, ((n + f) * {rate} + 999999) / 1000000 AS a,
       'fx:' || client_id || ':bench-' || i AS key,
       now() - interval '89 days' - pg_temp.u(i, 32) * interval '1 day' AS at
FROM (SELECT i, client_id, need_eur AS n,
             (need_eur * fx_bps + (10000 - fx_bps) - 1) / (10000 - fx_bps) AS f
      FROM bn) AS q;
INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT md5(key)::uuid, 'fx', key, 'client', client_id::text, 'USD -> EUR at 1.0850', 'client',
       at
FROM bfx;
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), md5(key)::uuid, leg.account_id, leg.currency, leg.amount, at
FROM bfx,
     LATERAL (VALUES (pg_temp.wallet(client_id, 'USD'), 'USD', -a),
                     (pg_temp.sys('fx', 'USD', key), 'USD', a),
                     (pg_temp.sys('fx', 'EUR', key), 'EUR', -g),
                     (pg_temp.wallet(client_id, 'EUR'), 'EUR', n),
                     (pg_temp.sys('fee_revenue', 'EUR', key), 'EUR', f))
         AS leg (account_id, currency, amount)
WHERE leg.amount <> 0;
"""

# USDT top-ups (1 USDT = 1 USD): spender s gets m_s top-ups that together credit what its USD
# wallet needs (its own spend and the conversion), spread over the 90 days; the rest of the
# top-ups go one each to other clients (funds they have not spent).
TOPUPS = """
CREATE TEMP TABLE btu AS
SELECT n.client_id, n.topup_bps, p.m,
       (n.need_usd + coalesce(f.a, 0)) * p.m / c.cnt
           - (n.need_usd + coalesce(f.a, 0)) * (p.m - 1) / c.cnt AS net,
       now() - pg_temp.u(n.i * 1000 + p.m, 33) * interval '90 days' AS at
FROM bn n LEFT JOIN bfx f ON f.i = n.i,
     LATERAL (SELECT {per_spender} + CASE WHEN n.i <= {extra_spender} THEN 1 ELSE 0 END AS cnt)
         AS c,
     LATERAL generate_series(1, c.cnt) AS p (m)
UNION ALL
SELECT bc.id, bp.topup_bps, 1, 2000 + (pg_temp.u(bc.i, 34) * 48000)::bigint,
       greatest(bc.created_at, now() - pg_temp.u(bc.i, 35) * interval '90 days')
FROM bc JOIN bp ON bp.n = bc.plan
WHERE NOT bc.spender AND bc.i <= {spenders} + {others};
CREATE TEMP TABLE btx AS
SELECT client_id, at, net, gross, gross - net AS fee, gross * 10000 AS received,
       md5('order:' || client_id || ':' || m)::uuid AS order_id
FROM (SELECT *, (net * 10000 + (10000 - topup_bps) - 1) / (10000 - topup_bps) AS gross
      FROM btu WHERE net > 0) AS q;
INSERT INTO ledger_transactions (id, kind, idempotency_key, reference_type, reference_id, note,
    actor, created_at)
SELECT md5('topup:' || order_id)::uuid, 'topup', 'topup:' || order_id, 'order', order_id::text,
       'USDT top-up', 'system', at
FROM btx;
INSERT INTO ledger_postings (id, transaction_id, account_id, currency, amount, created_at)
SELECT gen_random_uuid(), md5('topup:' || order_id)::uuid, leg.account_id, leg.currency,
       leg.amount, at
FROM btx,
     LATERAL (VALUES (pg_temp.sys('usdt_received', 'USDT', 'topup:' || order_id), 'USDT',
                      -received),
                     (pg_temp.sys('fx', 'USDT', 'topup:' || order_id), 'USDT', received),
                     (pg_temp.sys('fx', 'USD', 'topup:' || order_id), 'USD', -gross),
                     (pg_temp.wallet(client_id, 'USD'), 'USD', net),
                     (pg_temp.sys('fee_revenue', 'USD', 'topup:' || order_id), 'USD', fee))
         AS leg (account_id, currency, amount)
WHERE leg.amount <> 0;
"""

# The wallets the postings and holds touch, their cached balances, the cards' month spend.
FINISH = """
INSERT INTO ledger_accounts (id, kind, client_id, code, shard, currency, balance, created_at)
SELECT pg_temp.wallet(bc.id, cur), 'client', bc.id, NULL, 0, cur, 0, bc.created_at
FROM bc, unnest(ARRAY['EUR', 'USD']) AS cur
WHERE bc.spender
UNION ALL
SELECT pg_temp.wallet(client_id, 'USD'), 'client', client_id, NULL, 0, 'USD', 0, min(at)
FROM btx WHERE client_id NOT IN (SELECT id FROM bc WHERE spender) GROUP BY client_id;
UPDATE ledger_accounts a SET balance = s.total
FROM (SELECT account_id, sum(amount) AS total FROM ledger_postings GROUP BY account_id) AS s
WHERE a.id = s.account_id;
UPDATE cards c SET spend_month = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM'),
                   spent_this_month = s.spent
FROM (SELECT card_id, sum(coalesce(settled_amount, amount)) AS spent
      FROM card_transactions
      WHERE status IN ('approved', 'settled', 'refunded')
        AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
      GROUP BY card_id) AS s
WHERE c.id = s.card_id;
"""

# 3-D Secure codes (the code only while pending) and the issuer's events (the inbox).
CODES_AND_EVENTS = """
INSERT INTO codes_3ds (id, card_id, client_id, issuer, issuer_reference, code, merchant, amount,
    currency, status, expires_at, created_at, updated_at)
SELECT md5('code:' || id)::uuid, card_id, client_id, 'sandbox', issuer_transaction_id,
       CASE WHEN s = 'pending' THEN {token} END, merchant, amount, currency, s,
       created_at + interval '5 minutes', created_at - interval '20 seconds',
       CASE WHEN s = 'pending' THEN created_at - interval '20 seconds'
            WHEN s = 'expired' THEN created_at + interval '5 minutes' ELSE created_at END
FROM (SELECT t.*,
             CASE WHEN status = 'pending' THEN 'pending'
                  WHEN decline_reason = '3ds_failed'
                       THEN CASE WHEN pg_temp.u(hashtext(id::text), 40) < 0.6 THEN 'declined'
                                 ELSE 'expired' END
                  ELSE 'used' END AS s
      FROM card_transactions t WHERE three_ds) AS c;

CREATE TEMP TABLE be AS
SELECT id, issuer_transaction_id, card_id, amount, currency, created_at,
       CASE status WHEN 'declined' THEN 'authorization.declined'
                   WHEN 'reversed' THEN 'authorization.reversed'
                   WHEN 'expired' THEN 'authorization.expired'
                   ELSE 'transaction.cleared' END AS type,
       CASE WHEN status IN ('settled', 'refunded') THEN settled_at
            WHEN status = 'declined' THEN created_at ELSE updated_at END AS occurred
FROM card_transactions
WHERE status IN ('declined', 'reversed', 'expired', 'settled', 'refunded')
UNION ALL
SELECT id, issuer_transaction_id, card_id, refunded_amount, currency, created_at,
       'transaction.refunded', updated_at
FROM card_transactions WHERE status = 'refunded'
UNION ALL
SELECT id, issuer_reference, card_id, amount, currency, created_at, 'authentication.otp',
       created_at
FROM codes_3ds;
INSERT INTO issuer_events (id, issuer, event_id, event_type, occurred_at, received_at, lag_ms,
    raw_body, payload, code_reference, code_expires_at, status, attempts, error, processed_at)
SELECT gen_random_uuid(), 'sandbox', event_id, type, occurred,
       occurred + lag * interval '1 millisecond', lag,
       '{{"id":"' || event_id || '","type":"' || type || '","data":{{"transaction_id":"'
           || issuer_transaction_id || '","amount":' || amount || ',"currency":"' || currency
           || '"}}}}',
       json_build_object('event_id', event_id, 'kind', type,
                         'issuer_transaction_id', issuer_transaction_id,
                         'amount', amount, 'currency', currency),
       NULL, NULL, CASE WHEN failed THEN 'failed' ELSE 'processed' END,
       CASE WHEN failed THEN 5 ELSE 1 END,
       CASE WHEN failed THEN 'timeout talking to the database' END,
       CASE WHEN failed THEN NULL ELSE occurred + (lag + 40) * interval '1 millisecond' END
FROM (SELECT be.*, 'evt_' || md5(type || ':' || id) AS event_id,
             (150 + floor(-ln(1 - pg_temp.u(hashtext(type || id::text), 41)) * 700)
                  + CASE WHEN pg_temp.u(hashtext(type || id::text), 42) < 0.01
                         THEN 30000 ELSE 0 END)::int AS lag,
             pg_temp.u(hashtext(type || id::text), 43) < 0.002 AS failed
      FROM be) AS e;
UPDATE issuer_events e SET code_reference = c.issuer_reference, code_expires_at = c.expires_at
FROM codes_3ds c
WHERE c.status = 'pending' AND e.issuer = 'sandbox' AND e.event_type = 'authentication.otp'
  AND e.event_id = 'evt_' || md5('authentication.otp:' || c.id);
"""


# The big tables' plain indexes (not those behind a primary key or unique constraint) are
# dropped for the load and built again after it: one sort each instead of a million inserts.
BULK_TABLES = (
    "card_transactions",
    "ledger_transactions",
    "ledger_postings",
    "ledger_holds",
    "codes_3ds",
    "issuer_events",
)
PLAIN_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes AS i
WHERE i.schemaname = 'public' AND i.tablename = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c
                  WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)
ORDER BY i.tablename, i.indexname
"""


@dataclass(frozen=True)
class Counts:
    clients: int
    cards: int
    transactions: int
    postings: int
    ledger_transactions: int
    holds: int
    codes: int
    events: int


async def _scalar(conn: asyncpg.Connection, query: str) -> int:
    return int(await conn.fetchval(query) or 0)


async def load(dsn: str, scale: Scale) -> Counts:
    """Fill the migrated database; every statement in one session, in one transaction."""
    conn = await asyncpg.connect(dsn)
    rate = EUR_USD_MICROS
    token = BENCH_KEYS.encrypt("493817")  # the live code of each pending purchase
    values = {
        "clients": scale.clients,
        "cards": scale.cards,
        "transactions": scale.transactions,
        "spenders": scale.spenders,
        "spender_cards": scale.spender_cards,
        "rate": rate,
        "step": DAYS * 86400 / scale.transactions,
        "token": "'" + token.replace("'", "''") + "'",
        "merchants": MERCHANTS,
    }

    async def run(label: str, sql: str, **extra: object) -> None:
        started = time.perf_counter()
        await conn.execute(sql.format(**values, **extra))
        print(f"  {label:<34} {time.perf_counter() - started:6.1f} s", flush=True)

    try:
        async with conn.transaction():
            await conn.execute(SETUP)
            indexes = await conn.fetch(PLAIN_INDEXES, list(BULK_TABLES))
            for index in indexes:
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
            await run("plans, rate, system accounts", PLANS)
            await run("clients, subscriptions", CLIENTS)
            await run("cards", CARDS)
            await run("card transactions", TRANSACTIONS)
            await conn.execute("ANALYZE card_transactions")
            await run("holds, card spend, refunds", CARD_LEDGER)
            await run("card issue and subscription fees", FEES)
            await run("wallet needs", NEEDS)
            await run("fx conversions", FX)
            # The top-ups fill what remains of the postings' budget (5 legs each).
            so_far = await _scalar(conn, "SELECT count(*) FROM ledger_postings")
            topups = max(scale.spenders, (scale.postings - so_far) // 5)
            others = min(scale.clients - scale.spenders, (topups - scale.spenders) // 5)
            to_spenders = topups - others
            await run(
                "top-ups",
                TOPUPS,
                per_spender=to_spenders // scale.spenders,
                extra_spender=to_spenders % scale.spenders,
                others=others,
            )
            await run("wallets, balances, month spend", FINISH)
            await run("3-D Secure codes, issuer events", CODES_AND_EVENTS)
            started = time.perf_counter()
            for index in indexes:
                await conn.execute(index["indexdef"])
            took = time.perf_counter() - started
            print(f"  {f'{len(indexes)} indexes built again':<34} {took:6.1f} s", flush=True)
            await conn.execute("SET session_replication_role = origin")
        return Counts(
            clients=await _scalar(conn, "SELECT count(*) FROM clients"),
            cards=await _scalar(conn, "SELECT count(*) FROM cards"),
            transactions=await _scalar(conn, "SELECT count(*) FROM card_transactions"),
            postings=await _scalar(conn, "SELECT count(*) FROM ledger_postings"),
            ledger_transactions=await _scalar(conn, "SELECT count(*) FROM ledger_transactions"),
            holds=await _scalar(conn, "SELECT count(*) FROM ledger_holds"),
            codes=await _scalar(conn, "SELECT count(*) FROM codes_3ds"),
            events=await _scalar(conn, "SELECT count(*) FROM issuer_events"),
        )
    finally:
        await conn.close()


async def vacuum(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")  # steady state: autovacuum stays quiet
    finally:
        await conn.close()


async def ledger_sums(dsn: str) -> tuple[int, int]:
    """(transactions whose postings don't sum to zero per currency, wallets below zero)."""
    conn = await asyncpg.connect(dsn)
    try:
        unbalanced = await _scalar(
            conn,
            "SELECT count(*) FROM (SELECT 1 FROM ledger_postings GROUP BY transaction_id, "
            "currency HAVING sum(amount) <> 0) AS u",
        )
        negative = await _scalar(
            conn, "SELECT count(*) FROM ledger_accounts WHERE kind = 'client' AND balance < 0"
        )
        return unbalanced, negative
    finally:
        await conn.close()


def ledger_check(env: dict[str, str], cwd: Path) -> tuple[bool, str]:
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(BIN / "paywarden"), "ledger", "check"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, output[-1] if output else ""


async def rebuild_rollups(url: str, env: dict[str, str], cwd: Path) -> str:
    """The project's analytics rollup rebuild, whichever form exists; what was run."""
    rebuild: Callable[..., Awaitable[None]] | None = None
    with contextlib.suppress(ImportError):
        rebuild = getattr(importlib.import_module("paywarden.card_stats.service"), "rebuild", None)
    if rebuild is not None:
        db = Database(url, poolclass=NullPool, keyset=BENCH_KEYS)
        try:
            async with db.transaction() as session:
                await rebuild(session)
        finally:
            await db.dispose()
        return "paywarden.card_stats.service.rebuild"
    return await asyncio.to_thread(rebuild_with_cli, env, cwd)


def rebuild_with_cli(env: dict[str, str], cwd: Path) -> str:
    command = [str(BIN / "paywarden"), "analytics", "rebuild"]
    probe = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [*command, "--help"], env=env, cwd=cwd, capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "none (no card_stats.service.rebuild, no `paywarden analytics rebuild` yet)"
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)  # noqa: S603
    return "paywarden analytics rebuild"


# ---- the timing ---------------------------------------------------------------------------


def endpoints_exist() -> bool:
    """Whether the analytics package declares the overview route yet (read from the source, so
    that a run can start while they are being written; the server starts once they are)."""
    package = Path(__file__).parent.parent / "paywarden" / "analytics"
    return any("analytics/overview" in p.read_text() for p in package.glob("*.py"))


def run_wrk(wrk: str, base_url: str, path: str, cookie: str, connections: int, seconds: int) -> str:
    done = subprocess.run(  # noqa: S603 - wrk found on PATH, fixed arguments
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Cookie: admin_token={cookie}",
            base_url + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    p50 = re.search(r"50%\s+(\S+)", done.stdout)
    p99 = re.search(r"99%\s+(\S+)", done.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return (
        f"{rate.group(1) if rate else '?'} req/s  p50 {p50.group(1) if p50 else '?'}  "
        f"p99 {p99.group(1) if p99 else '?'}  non-2xx {non2xx.group(1) if non2xx else 0}"
    )


async def run_httpx(base_url: str, path: str, cookie: str, connections: int, seconds: int) -> str:
    """`connections` clients sending GETs back to back for `seconds`."""
    timings: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=base_url, cookies={"admin_token": cookie}, limits=limits, timeout=30
    ) as client:
        started = time.perf_counter()
        stop_at = started + seconds

        async def one_client() -> None:
            nonlocal failures
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                response = await client.get(path)
                timings.append(time.perf_counter() - t0)
                failures += response.status_code != 200

        await asyncio.gather(*(one_client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ms = [t * 1000 for t in timings]
    return (
        f"{len(ms) / elapsed:6.1f} req/s  median {statistics.median(ms):6.1f} ms  "
        f"p95 {percentile(ms, 0.95):6.1f} ms  non-200 {failures}"
    )


def short(path: str) -> str:
    return path.removeprefix("/api/v1/admin/analytics/")


async def wait_for_endpoints(minutes: float) -> bool:
    deadline = time.monotonic() + minutes * 60
    while not endpoints_exist():
        if time.monotonic() > deadline:
            print("the analytics endpoints do not exist yet: nothing timed")
            return False
        print("waiting for the analytics endpoints (paywarden/cards_dashboard/) ...", flush=True)
        await asyncio.sleep(60)
    return True


async def measure(base_url: str, requests: int, concurrency: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await OPERATOR.sign_in(client)
        sample = (await client.get(ENDPOINTS[0])).json()
        print("overview?period=today, some figures:", flush=True)
        for key in ("cards", "topups", "spend", "fees", "quality", "risk_3ds", "health"):
            print(f"  {key}: {json.dumps(sample.get(key), separators=(',', ':'))}")
        for path in ENDPOINTS:
            results[path] = await time_gets(client, path, requests, WARMUP)
            ms = [t * 1000 for t in results[path]]
            p95 = percentile(ms, 0.95)
            verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
            print(
                f"{short(path):<22} median {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms  "
                f"max {max(ms):6.1f} ms  (target p95 <= {TARGET_P95_MS:.0f} ms: {verdict})",
                flush=True,
            )
        cookie = client.cookies.get("admin_token") or ""
    wrk = shutil.which("wrk")
    if concurrency:
        how = "wrk" if wrk else "httpx in this process (no wrk on PATH)"
        print(f"concurrent: {how}, {concurrency} connections, {CONCURRENT_SECONDS} s each")
        for path in ENDPOINTS:
            if wrk:
                line = await asyncio.to_thread(
                    run_wrk, wrk, base_url, path, cookie, concurrency, CONCURRENT_SECONDS
                )
            else:
                line = await run_httpx(base_url, path, cookie, concurrency, CONCURRENT_SECONDS)
            print(f"  {short(path):<22} {line}", flush=True)
    return results


async def main(args: argparse.Namespace) -> None:
    scale = Scale(args.clients, args.cards, args.transactions, args.postings)
    url = make_url(POSTGRES).set(database=DATABASE).render_as_string(hide_password=False)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    print(
        f"analytics on {scale.clients:,} clients ({scale.spenders:,} spending), "
        f"{scale.cards:,} cards, {scale.transactions:,} card transactions over {DAYS} days, "
        f"~{scale.postings:,} ledger postings; {args.requests} sequential GETs per endpoint "
        f"after {WARMUP} warm-up; server: serve --no-worker, 1 worker",
        flush=True,
    )
    await admin_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin_sql(f'CREATE DATABASE "{DATABASE}"')
    try:
        with tempfile.TemporaryDirectory(prefix="pw_bench_") as tmp:
            cwd = Path(tmp)
            config = ServerConfig(workers=1, pool_size=5, max_overflow=10, address_pool=5)
            env = server_env(url, cwd, config)
            migrate(env, cwd)
            await fill_address_pool(url, env)
            started = time.perf_counter()
            counts = await load(dsn, scale)
            loaded = time.perf_counter() - started
            await vacuum(dsn)
            vacuumed = time.perf_counter() - started - loaded
            print(
                f"loaded in {loaded:.1f} s (VACUUM ANALYZE {vacuumed:.1f} s): "
                f"{counts.clients:,} clients, {counts.cards:,} cards, "
                f"{counts.transactions:,} card transactions, {counts.postings:,} postings in "
                f"{counts.ledger_transactions:,} ledger transactions, {counts.holds:,} holds, "
                f"{counts.codes:,} 3-D Secure codes, {counts.events:,} issuer events",
                flush=True,
            )
            unbalanced, negative = await ledger_sums(dsn)
            print(f"unbalanced ledger transactions: {unbalanced}; wallets below zero: {negative}")
            if not args.skip_ledger_check:
                started = time.perf_counter()
                ok, last = ledger_check(env, cwd)
                took = time.perf_counter() - started
                print(f"paywarden ledger check ({took:.1f} s): {'passed' if ok else last}")
            started = time.perf_counter()
            how = await rebuild_rollups(url, env, cwd)
            print(f"rollup rebuild: {how}, {time.perf_counter() - started:.1f} s", flush=True)
            await OPERATOR.create(url)
            if not await wait_for_endpoints(args.wait):
                return
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            with running_server(env, cwd, port, workers=1) as server:
                await wait_ready(base_url, server, cwd / "server.log")
                await measure(base_url, args.requests, args.concurrency)
    finally:
        if args.keep:
            print(f"kept the database {DATABASE} ({url})")
        else:
            await admin_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--postings", type=int, default=2_000_000, help="the ledger's target")
    parser.add_argument("--requests", type=int, default=200, help="timed GETs per endpoint")
    parser.add_argument(
        "--concurrency", type=int, default=0, help="also a 10 s wrk run per endpoint with N"
    )
    parser.add_argument(
        "--wait", type=float, default=0, help="minutes to wait for the endpoints to appear"
    )
    parser.add_argument("--skip-ledger-check", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parsed = parser.parse_args()
    if parsed.clients < 2 or parsed.cards < 2 or parsed.transactions < 1:
        parser.error("at least 2 clients, 2 cards and 1 transaction")
    asyncio.run(main(parsed))
