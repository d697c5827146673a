"""Cards part 2: cards, card transactions, the issuer inbox (issuer_events), 3-D Secure codes,
the B2B profile pool (profiles, groups, invites).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "b2b_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_b2b_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_b2b_groups_name")),
    )
    op.create_table(
        "issuer_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lag_ms", sa.Integer(), nullable=True),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'failed')", name=op.f("ck_issuer_events_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_events")),
        sa.UniqueConstraint("issuer", "event_id", name="uq_issuer_events_issuer_event"),
    )
    with op.batch_alter_table("issuer_events", schema=None) as batch_op:
        batch_op.create_index("ix_issuer_events_received_at", ["received_at"], unique=False)
        batch_op.create_index(
            "ix_issuer_events_status_received", ["status", "received_at"], unique=False
        )

    op.create_table(
        "b2b_invites",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_prefix", sa.String(length=12), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["b2b_groups.id"], name=op.f("fk_b2b_invites_group_id_b2b_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_b2b_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_b2b_invites_code_hash")),
    )
    op.create_table(
        "b2b_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('available', 'assigned', 'disabled')", name=op.f("ck_b2b_profiles_status")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_b2b_profiles_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["b2b_groups.id"], name=op.f("fk_b2b_profiles_group_id_b2b_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_b2b_profiles")),
        sa.UniqueConstraint("issuer", "external_id", name="uq_b2b_profiles_issuer_external"),
    )
    with op.batch_alter_table("b2b_profiles", schema=None) as batch_op:
        batch_op.create_index("ix_b2b_profiles_status", ["status"], unique=False)

    op.create_table(
        "cards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("issuer_card_id", sa.String(length=128), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("monthly_limit", sa.BigInteger(), nullable=False),
        sa.Column("spend_month", sa.String(length=7), nullable=True),
        sa.Column("spent_this_month", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("issue_fee", sa.BigInteger(), nullable=False),
        sa.Column("issue_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("currency IN ('EUR', 'USD')", name=op.f("ck_cards_currency")),
        sa.CheckConstraint(
            "status IN ('active', 'frozen', 'closed')", name=op.f("ck_cards_status")
        ),
        sa.CheckConstraint("monthly_limit > 0", name=op.f("ck_cards_monthly_limit_positive")),
        sa.CheckConstraint("spent_this_month >= 0", name=op.f("ck_cards_spent_non_negative")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_cards_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["issue_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_cards_issue_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("issuer", "issuer_card_id", name="uq_cards_issuer_card"),
    )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("ix_cards_client_status", ["client_id", "status"], unique=False)
        batch_op.create_index("ix_cards_created_at", ["created_at"], unique=False)

    op.create_table(
        "codes_3ds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("issuer_reference", sa.String(length=128), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("merchant", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'used', 'expired', 'declined')", name=op.f("ck_codes_3ds_status")
        ),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_codes_3ds_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_codes_3ds_client_id_clients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_codes_3ds")),
        sa.UniqueConstraint("issuer", "issuer_reference", name="uq_codes_3ds_issuer_reference"),
    )
    with op.batch_alter_table("codes_3ds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_codes_3ds_client_created", ["client_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_codes_3ds_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_codes_3ds_status_expires", ["status", "expires_at"], unique=False)

    op.create_table(
        "card_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("issuer", sa.String(length=32), nullable=False),
        sa.Column("issuer_transaction_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decline_reason", sa.String(length=32), nullable=True),
        sa.Column("raw_code", sa.String(length=64), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fx_fee", sa.BigInteger(), nullable=False),
        sa.Column("merchant_amount", sa.BigInteger(), nullable=False),
        sa.Column("merchant_currency", sa.String(length=3), nullable=False),
        sa.Column("merchant", sa.String(length=255), nullable=True),
        sa.Column("mcc", sa.String(length=4), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("three_ds", sa.Boolean(), nullable=True),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("settled_amount", sa.BigInteger(), nullable=True),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "decline_reason IS NULL OR decline_reason IN ('insufficient_funds', 'do_not_honor', '3ds_failed', 'card_inactive', 'spending_limit', 'suspected_fraud', 'other')",
            name=op.f("ck_card_transactions_decline_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'settled', 'reversed', 'refunded', 'expired')",
            name=op.f("ck_card_transactions_status"),
        ),
        sa.CheckConstraint(
            "amount >= 0 AND merchant_amount >= 0", name=op.f("ck_card_transactions_amounts")
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_card_transactions_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_card_transactions_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_card_transactions_hold_id_ledger_holds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_transactions")),
        sa.UniqueConstraint(
            "issuer", "issuer_transaction_id", name="uq_card_transactions_issuer_tx"
        ),
    )
    with op.batch_alter_table("card_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_card_transactions_card_created", ["card_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_card_transactions_client_created", ["client_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_card_transactions_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_card_transactions_merchant", ["merchant"], unique=False)
        batch_op.create_index("ix_card_transactions_status", ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("card_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_card_transactions_status")
        batch_op.drop_index("ix_card_transactions_merchant")
        batch_op.drop_index("ix_card_transactions_created_at")
        batch_op.drop_index("ix_card_transactions_client_created")
        batch_op.drop_index("ix_card_transactions_card_created")

    op.drop_table("card_transactions")
    with op.batch_alter_table("codes_3ds", schema=None) as batch_op:
        batch_op.drop_index("ix_codes_3ds_status_expires")
        batch_op.drop_index("ix_codes_3ds_created_at")
        batch_op.drop_index("ix_codes_3ds_client_created")

    op.drop_table("codes_3ds")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cards_created_at")
        batch_op.drop_index("ix_cards_client_status")

    op.drop_table("cards")
    with op.batch_alter_table("b2b_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_b2b_profiles_status")

    op.drop_table("b2b_profiles")
    op.drop_table("b2b_invites")
    with op.batch_alter_table("issuer_events", schema=None) as batch_op:
        batch_op.drop_index("ix_issuer_events_status_received")
        batch_op.drop_index("ix_issuer_events_received_at")

    op.drop_table("issuer_events")
    op.drop_table("b2b_groups")
