"""Cards pricing and support: plans (at most one default), the EUR/USD rate history, support settings;
the foreign key from clients.plan_id to plans.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 15:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("bullets", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("monthly_fee", sa.BigInteger(), nullable=False),
        sa.Column("cards_included", sa.Integer(), nullable=False),
        sa.Column("max_active_cards", sa.Integer(), nullable=False),
        sa.Column("card_issue_fee", sa.BigInteger(), nullable=False),
        sa.Column("topup_fee_bps", sa.Integer(), nullable=False),
        sa.Column("fx_fee_bps", sa.Integer(), nullable=False),
        sa.Column("hidden_from_home", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("currency = 'EUR'", name=op.f("ck_plans_currency")),
        sa.CheckConstraint("monthly_fee >= 0 AND card_issue_fee >= 0", name=op.f("ck_plans_fees")),
        sa.CheckConstraint(
            "topup_fee_bps BETWEEN 0 AND 10000 AND fx_fee_bps BETWEEN 0 AND 10000",
            name=op.f("ck_plans_percents"),
        ),
        sa.CheckConstraint(
            "cards_included >= 0 AND max_active_cards >= 0", name=op.f("ck_plans_cards")
        ),
        sa.CheckConstraint(
            "NOT (is_default AND archived)", name=op.f("ck_plans_default_not_archived")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("name", name=op.f("uq_plans_name")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index("ix_plans_sort_order", ["sort_order"], unique=False)
        batch_op.create_index(
            "uq_plans_one_default",
            ["is_default"],
            unique=True,
            postgresql_where=sa.text("is_default"),
            sqlite_where=sa.text("is_default"),
        )

    op.create_table(
        "fx_rates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("eur_usd_micros", sa.BigInteger(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("set_by", sa.String(length=255), nullable=False),
        sa.CheckConstraint("eur_usd_micros > 0", name=op.f("ck_fx_rates_positive")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_fx_rates_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
    )

    op.create_table(
        "support_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("contact", sa.String(length=255), nullable=False),
        sa.Column("working_hours", sa.String(length=255), nullable=False),
        sa.Column("average_reply_time", sa.String(length=255), nullable=False),
        sa.Column("reply_time_templates", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_support_settings_single_row")),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_support_settings_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_settings")),
    )
    # clients.plan_id (0006) gets its foreign key now that plans exist.
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_foreign_key(op.f("fk_clients_plan_id_plans"), "plans", ["plan_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_clients_plan_id_plans"), type_="foreignkey")
    op.drop_table("support_settings")
    op.drop_table("fx_rates")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("uq_plans_one_default")
        batch_op.drop_index("ix_plans_sort_order")
    op.drop_table("plans")
