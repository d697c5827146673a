"""Operators, their sessions, 2FA enrollments and backup codes, and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# The audit log is append-only in the database too, not only by convention in the code.
PG_APPEND_ONLY = [
    """CREATE FUNCTION admin_audit_log_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'admin_audit_log is append-only'; END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER admin_audit_log_append_only BEFORE UPDATE OR DELETE ON admin_audit_log
    FOR EACH ROW EXECUTE FUNCTION admin_audit_log_append_only()""",
]
SQLITE_APPEND_ONLY = [
    f"""CREATE TRIGGER admin_audit_log_no_{what} BEFORE {what.upper()} ON admin_audit_log
    BEGIN SELECT RAISE(ABORT, 'admin_audit_log is append-only'); END"""
    for what in ("update", "delete")
]


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("env_password_hash", sa.String(255), nullable=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.Column("deleted_at", TS, nullable=True),
        sa.CheckConstraint("role IN ('super_admin', 'operator')", name=op.f("ck_operators_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_operators_email")),
    )
    op.create_table(
        "admin_audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target_type", sa.String(64), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(512), nullable=True),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_admin_audit_log_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit_log")),
    )
    op.create_index(op.f("ix_admin_audit_log_action"), "admin_audit_log", ["action"])
    op.create_index(op.f("ix_admin_audit_log_created_at"), "admin_audit_log", ["created_at"])
    op.create_index(op.f("ix_admin_audit_log_operator_id"), "admin_audit_log", ["operator_id"])
    op.create_index("ix_admin_audit_log_target", "admin_audit_log", ["target_type", "target_id"])
    for table, unique_col in (
        ("operator_backup_codes", "code_hash"),
        ("totp_enrollments", "token_hash"),
    ):
        extra = (
            [sa.Column("secret", sa.String(64), nullable=False)]
            if table == "totp_enrollments"
            else []
        )
        expires = (
            [sa.Column("expires_at", TS, nullable=False)] if table == "totp_enrollments" else []
        )
        op.create_table(
            table,
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("operator_id", sa.Uuid(), nullable=False),
            sa.Column(unique_col, sa.String(64), nullable=False),
            *extra,
            sa.Column("created_at", TS, nullable=False),
            *expires,
            sa.Column("used_at", TS, nullable=True),
            sa.ForeignKeyConstraint(
                ["operator_id"], ["operators.id"], name=op.f(f"fk_{table}_operator_id_operators")
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint(unique_col, name=op.f(f"uq_{table}_{unique_col}")),
        )
        op.create_index(op.f(f"ix_{table}_operator_id"), table, ["operator_id"])
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(512), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sessions_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sessions")),
    )
    op.create_index(op.f("ix_operator_sessions_expires_at"), "operator_sessions", ["expires_at"])
    op.create_index(op.f("ix_operator_sessions_operator_id"), "operator_sessions", ["operator_id"])

    is_pg = op.get_bind().dialect.name == "postgresql"
    for statement in PG_APPEND_ONLY if is_pg else SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER admin_audit_log_append_only ON admin_audit_log")
        op.execute("DROP FUNCTION admin_audit_log_append_only()")
    for table in (
        "operator_sessions",
        "totp_enrollments",
        "operator_backup_codes",
        "admin_audit_log",
        "operators",
    ):
        op.drop_table(table)
