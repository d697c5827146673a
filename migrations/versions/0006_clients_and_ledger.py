"""Cards: clients, and the wallets' double-entry ledger (accounts, transactions, postings, holds).

`clients.plan_id` is a plain UUID without a foreign key: the plans table comes in a later revision.
Ledger transactions and postings are append-only in the database, like the audit log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 15:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
APPEND_ONLY = ("ledger_transactions", "ledger_postings")
KINDS = (
    "'topup', 'topup_fee', 'subscription_fee', 'card_issue_fee', 'card_spend', "
    "'card_refund', 'fx', 'adjustment', 'demo'"
)


def _pg_append_only(table: str) -> list[str]:
    return [
        f"""CREATE FUNCTION {table}_append_only() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION '{table} is append-only'; END;
        $$ LANGUAGE plpgsql""",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_append_only()""",
    ]


def _sqlite_append_only(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_no_{what} BEFORE {what.upper()} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
        for what in ("update", "delete")
    ]


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_user_id", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("username", sa.String(255), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("can_create_cards", sa.Boolean(), nullable=False),
        sa.Column("max_active_cards", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Uuid(), nullable=True),
        sa.Column("plan_since", TS, nullable=True),
        sa.Column("tariff_notes", sa.Text(), nullable=True),
        sa.Column("internal_note", sa.Text(), nullable=True),
        sa.Column("support_owner_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_active_at", TS, nullable=True),
        sa.CheckConstraint("status IN ('active', 'banned')", name=op.f("ck_clients_status")),
        sa.CheckConstraint(
            "max_active_cards IS NULL OR max_active_cards >= 0",
            name=op.f("ck_clients_max_active_cards"),
        ),
        sa.ForeignKeyConstraint(
            ["support_owner_id"],
            ["operators.id"],
            name=op.f("fk_clients_support_owner_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
        sa.UniqueConstraint("external_user_id", name=op.f("uq_clients_external_user_id")),
    )
    op.create_index("ix_clients_created_at", "clients", ["created_at"])
    op.create_index(op.f("ix_clients_username"), "clients", ["username"])
    op.create_index(op.f("ix_clients_plan_id"), "clients", ["plan_id"])

    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("kind IN ('client', 'system')", name=op.f("ck_ledger_accounts_kind")),
        sa.CheckConstraint(
            "(kind = 'client' AND client_id IS NOT NULL AND code IS NULL AND shard = 0)"
            " OR (kind = 'system' AND client_id IS NULL AND code IS NOT NULL)",
            name=op.f("ck_ledger_accounts_owner"),
        ),
        sa.CheckConstraint(
            "currency IN ('EUR', 'USD', 'USDT')", name=op.f("ck_ledger_accounts_currency")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_ledger_accounts_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("client_id", "currency", name="uq_ledger_accounts_client_currency"),
        sa.UniqueConstraint(
            "code", "currency", "shard", name="uq_ledger_accounts_code_currency_shard"
        ),
    )

    op.create_table(
        "ledger_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("reference_type", sa.String(32), nullable=True),
        sa.Column("reference_id", sa.String(64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_ledger_transactions_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_transactions_idempotency_key")),
    )
    op.create_index(
        "ix_ledger_transactions_reference",
        "ledger_transactions",
        ["reference_type", "reference_id"],
    )
    op.create_index("ix_ledger_transactions_created_at", "ledger_transactions", ["created_at"])

    op.create_table(
        "ledger_postings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_postings_amount_non_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_postings_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_postings_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    op.create_index(
        "ix_ledger_postings_account_created", "ledger_postings", ["account_id", "created_at"]
    )
    op.create_index(
        op.f("ix_ledger_postings_transaction_id"), "ledger_postings", ["transaction_id"]
    )

    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reference_type", sa.String(32), nullable=True),
        sa.Column("reference_id", sa.String(64), nullable=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("posted_amount", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'posted', 'voided')", name=op.f("ck_ledger_holds_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_holds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_holds_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
    )
    op.create_index("ix_ledger_holds_account_status", "ledger_holds", ["account_id", "status"])
    op.create_index("ix_ledger_holds_reference", "ledger_holds", ["reference_type", "reference_id"])

    is_pg = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        for statement in _pg_append_only(table) if is_pg else _sqlite_append_only(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_append_only()")
    for table in (
        "ledger_holds",
        "ledger_postings",
        "ledger_transactions",
        "ledger_accounts",
        "clients",
    ):
        op.drop_table(table)
