"""Web sign-ups: web_users (email + argon2id password, verification, link to a client) and
their revocable sessions.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_user_id", sa.String(length=80), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'disabled')", name=op.f("ck_web_users_status")
        ),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_web_users_email_lowercase")),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_web_users_client_id_clients"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_users")),
        sa.UniqueConstraint("email", name=op.f("uq_web_users_email")),
    )
    with op.batch_alter_table("web_users", schema=None) as batch_op:
        batch_op.create_index("ix_web_users_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_web_users_external_user_id"), ["external_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_users_client_id"), ["client_id"], unique=False)

    op.create_table(
        "web_user_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("web_user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["web_user_id"],
            ["web_users.id"],
            name=op.f("fk_web_user_sessions_web_user_id_web_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_user_sessions")),
    )
    with op.batch_alter_table("web_user_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_user_sessions_web_user_id"), ["web_user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_user_sessions_web_user_id"))
    op.drop_table("web_user_sessions")
    with op.batch_alter_table("web_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_users_client_id"))
        batch_op.drop_index(batch_op.f("ix_web_users_external_user_id"))
        batch_op.drop_index("ix_web_users_created_at")
    op.drop_table("web_users")
