"""Chain: transfers to deposit addresses and the scanner's cursor.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tx_hash", sa.String(length=64), nullable=False),
        sa.Column("event_index", sa.Integer(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_address", sa.String(length=64), nullable=False),
        sa.Column("to_address", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("deposit_address_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finalized_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('seen', 'final', 'dropped')", name=op.f("ck_chain_transfers_status")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_chain_transfers_amount_non_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_chain_transfers_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_transfers")),
        sa.UniqueConstraint("tx_hash", "event_index", name="uq_chain_transfers_tx_event"),
    )
    with op.batch_alter_table("chain_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_transfers_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_chain_transfers_to_address"), ["to_address"], unique=False
        )
        batch_op.create_index(
            "ix_chain_transfers_status_block", ["status", "block_number"], unique=False
        )

    op.create_table(
        "scanner_state",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("last_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block_id", sa.String(length=64), nullable=True),
        sa.Column("solidified_block", sa.BigInteger(), nullable=False),
        sa.Column("head_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_scanner_state")),
    )


def downgrade() -> None:
    op.drop_table("scanner_state")
    with op.batch_alter_table("chain_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_transfers_status_block")
        batch_op.drop_index(batch_op.f("ix_chain_transfers_to_address"))
        batch_op.drop_index(batch_op.f("ix_chain_transfers_order_id"))

    op.drop_table("chain_transfers")
