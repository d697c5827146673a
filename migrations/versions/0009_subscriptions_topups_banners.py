"""Cards: subscriptions (billing state of a client's plan), USDT top-ups (orders of the internal
Cards merchant), banners (partner ads, image in the row), merchants.is_internal.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 16:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "banners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("page", sa.String(length=16), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("target_url", sa.String(length=2048), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/webp', 'image/jpeg')", name=op.f("ck_banners_content_type")
        ),
        sa.CheckConstraint(
            "page IN ('main', 'card', '3ds', 'tx', 'profile')", name=op.f("ck_banners_page")
        ),
        sa.CheckConstraint("clicks >= 0", name=op.f("ck_banners_clicks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banners")),
    )
    with op.batch_alter_table("banners", schema=None) as batch_op:
        batch_op.create_index("ix_banners_page_active", ["page", "active"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fee_charged", sa.BigInteger(), nullable=False),
        sa.Column("fee_currency", sa.String(length=3), nullable=True),
        sa.Column("last_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'past_due')", name=op.f("ck_subscriptions_status")
        ),
        sa.CheckConstraint("fee_charged >= 0", name=op.f("ck_subscriptions_fee_charged")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_subscriptions_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["last_transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_subscriptions_last_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_subscriptions_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("client_id", name=op.f("uq_subscriptions_client_id")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriptions_status_period_end", ["status", "current_period_end"], unique=False
        )

    op.create_table(
        "topups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("amount_usdt", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_usdt", sa.BigInteger(), nullable=True),
        sa.Column("gross_cents", sa.BigInteger(), nullable=True),
        sa.Column("fee_cents", sa.BigInteger(), nullable=True),
        sa.Column("credited_cents", sa.BigInteger(), nullable=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'credited', 'expired')", name=op.f("ck_topups_status")
        ),
        sa.CheckConstraint("amount_usdt > 0", name=op.f("ck_topups_amount_positive")),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_topups_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_topups_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_topups_transaction_id_ledger_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topups")),
        sa.UniqueConstraint("order_id", name=op.f("uq_topups_order_id")),
    )
    with op.batch_alter_table("topups", schema=None) as batch_op:
        batch_op.create_index("ix_topups_client_created", ["client_id", "created_at"], unique=False)

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_internal", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("is_internal")

    with op.batch_alter_table("topups", schema=None) as batch_op:
        batch_op.drop_index("ix_topups_client_created")

    op.drop_table("topups")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriptions_status_period_end")

    op.drop_table("subscriptions")
    with op.batch_alter_table("banners", schema=None) as batch_op:
        batch_op.drop_index("ix_banners_page_active")

    op.drop_table("banners")
