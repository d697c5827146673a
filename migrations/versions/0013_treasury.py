"""Treasury: the issuer's status and balances as last read, the per-minute issuer call counts,
and the operators' estimates (history).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuer_status",
        sa.Column("issuer", sa.String(length=40), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health_ok", sa.Boolean(), nullable=True),
        sa.Column("health_detail", sa.String(length=255), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("balances_failed", sa.Boolean(), nullable=False),
        sa.Column("alerting", sa.JSON(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("issuer", name=op.f("pk_issuer_status")),
    )
    op.create_table(
        "issuer_balances",
        sa.Column("issuer", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("error_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("issuer", "currency", name=op.f("pk_issuer_balances")),
    )
    op.create_table(
        "issuer_call_counts",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("ok >= 0", name=op.f("ck_issuer_call_counts_ok")),
        sa.CheckConstraint("failed >= 0", name=op.f("ck_issuer_call_counts_failed")),
        sa.PrimaryKeyConstraint("minute", name=op.f("pk_issuer_call_counts")),
    )
    op.create_table(
        "treasury_estimates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_eur", sa.BigInteger(), nullable=False),
        sa.Column("pending_usd", sa.BigInteger(), nullable=False),
        sa.Column("holds_eur", sa.BigInteger(), nullable=False),
        sa.Column("holds_usd", sa.BigInteger(), nullable=False),
        sa.Column("runway_days_override", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.CheckConstraint("pending_eur >= 0", name=op.f("ck_treasury_estimates_pending_eur")),
        sa.CheckConstraint("pending_usd >= 0", name=op.f("ck_treasury_estimates_pending_usd")),
        sa.CheckConstraint("holds_eur >= 0", name=op.f("ck_treasury_estimates_holds_eur")),
        sa.CheckConstraint("holds_usd >= 0", name=op.f("ck_treasury_estimates_holds_usd")),
        sa.CheckConstraint(
            "runway_days_override IS NULL OR runway_days_override >= 0",
            name=op.f("ck_treasury_estimates_runway_days_override"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_treasury_estimates_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_estimates")),
    )
    with op.batch_alter_table("treasury_estimates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treasury_estimates_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_treasury_estimates_operator_id"), ["operator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("treasury_estimates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treasury_estimates_operator_id"))
        batch_op.drop_index(batch_op.f("ix_treasury_estimates_created_at"))
    op.drop_table("treasury_estimates")
    op.drop_table("issuer_call_counts")
    op.drop_table("issuer_balances")
    op.drop_table("issuer_status")
