"""The client app: Mini App sessions (init data exchanged once for a cookie) and the app
language a client chose.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("app_language", sa.String(length=8), nullable=True))
    op.create_table(
        "client_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_client_sessions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_sessions")),
    )
    op.create_index(
        op.f("ix_client_sessions_client_id"), "client_sessions", ["client_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_client_sessions_client_id"), table_name="client_sessions")
    op.drop_table("client_sessions")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("app_language")
