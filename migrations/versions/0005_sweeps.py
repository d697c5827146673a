"""Sweeps: the resumable sweep jobs and the hot wallet's registration and balance cache.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("address_id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("active_address", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("energy", sa.BigInteger(), nullable=True),
        sa.Column("fund_sun", sa.BigInteger(), nullable=True),
        sa.Column("delegate_sun", sa.BigInteger(), nullable=True),
        sa.Column("fee_limit", sa.BigInteger(), nullable=True),
        sa.Column("fund_txid", sa.String(length=64), nullable=True),
        sa.Column("fund_tx", sa.JSON(), nullable=True),
        sa.Column("delegate_txid", sa.String(length=64), nullable=True),
        sa.Column("delegate_tx", sa.JSON(), nullable=True),
        sa.Column("transfer_txid", sa.String(length=64), nullable=True),
        sa.Column("transfer_tx", sa.JSON(), nullable=True),
        sa.Column("reclaim_txid", sa.String(length=64), nullable=True),
        sa.Column("reclaim_tx", sa.JSON(), nullable=True),
        sa.Column("funded_sun", sa.BigInteger(), nullable=False),
        sa.Column("delegated_sun", sa.BigInteger(), nullable=False),
        sa.Column("fee_sun", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_step", sa.String(length=16), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease", sa.Uuid(), nullable=True),
        sa.Column("settlement", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'active', 'failed', 'done')", name=op.f("ck_sweeps_status")
        ),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('burn', 'delegate')", name=op.f("ck_sweeps_mode")
        ),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["deposit_addresses.id"],
            name=op.f("fk_sweeps_address_id_deposit_addresses"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_sweeps_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweeps")),
        sa.UniqueConstraint("active_address", name=op.f("uq_sweeps_active_address")),
    )
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.create_index("ix_sweeps_status_next_run", ["status", "next_run_at"], unique=False)
        batch_op.create_index("ix_sweeps_order_created", ["order_id", "created_at"], unique=False)

    op.create_table(
        "hot_wallets",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("balance_sun", sa.BigInteger(), nullable=True),
        sa.Column("is_low", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_hot_wallets")),
    )


def downgrade() -> None:
    op.drop_table("hot_wallets")
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.drop_index("ix_sweeps_order_created")
        batch_op.drop_index("ix_sweeps_status_next_run")

    op.drop_table("sweeps")
