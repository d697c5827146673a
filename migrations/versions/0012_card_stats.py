"""The cards rollup: `card_stats` and the triggers that keep it, then a rebuild from the rows
already there (an upgraded database starts with exact figures); `card_exposure` (the cards'
free limit against wallets, computed once a minute); indexes for the overview's reads (live
holds, the issuer inbox's last day).

The trigger SQL is generated from the rollup's definition (paywarden/card_stats/sql.py). A later
change to that definition ships a new revision that drops and reinstalls the triggers and
rebuilds; tests/card_stats/test_triggers.py fails while the installed triggers differ from it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paywarden.card_stats import sql as rollup

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MEASURES = (
    "cards_created",
    "cards_closed",
    "cards_active",
    "cards_active_limit",
    "tx_approved",
    "tx_declined",
    "declined_insufficient_funds",
    "declined_do_not_honor",
    "declined_3ds",
    "declined_other",
    "spend_amount",
    "spend_count",
    "pending_amount",
    "pending_count",
    "codes_requested",
    "codes_used",
    "codes_expired",
    "codes_declined",
    "topup_amount",
    "topup_count",
    "fee_topup",
    "fee_fx",
    "fee_card",
)


def upgrade() -> None:
    op.create_table(
        "card_stats",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False, server_default="0") for m in MEASURES),
        sa.PrimaryKeyConstraint("bucket", "currency", "shard", name="pk_card_stats"),
    )
    op.create_table(
        "card_exposure",
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("available_to_spend", sa.BigInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("currency", name="pk_card_exposure"),
    )
    held = sa.text("status = 'held'")
    op.create_index(
        "ix_ledger_holds_held",
        "ledger_holds",
        ["account_id", "amount"],
        postgresql_where=held,
        sqlite_where=held,
    )
    op.drop_index("ix_issuer_events_received_at", table_name="issuer_events")
    op.create_index(
        "ix_issuer_events_received_status_lag",
        "issuer_events",
        ["received_at", "status", "lag_ms"],
    )
    dialect = op.get_bind().dialect.name
    for statement in rollup.install(dialect):
        op.execute(statement)
    for statement in rollup.rebuild(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in rollup.uninstall(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("card_stats")
    op.drop_index("ix_issuer_events_received_status_lag", table_name="issuer_events")
    op.create_index("ix_issuer_events_received_at", "issuer_events", ["received_at"])
    op.drop_index("ix_ledger_holds_held", table_name="ledger_holds")
    op.drop_table("card_exposure")
