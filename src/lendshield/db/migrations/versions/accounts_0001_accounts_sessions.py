"""accounts: staff and borrower accounts, sessions, login attempts

Revision ID: accounts_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "accounts_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("accounts",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("login_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=True),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_confirmed", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("recovery_hashes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('staff', 'borrower')", name=op.f("ck_accounts_kind")),
        sa.CheckConstraint("(kind = 'staff') = (principal_id IS NOT NULL)", name=op.f("ck_accounts_staff_has_principal")),
        sa.ForeignKeyConstraint(["principal_id"], ["principals.id"], name=op.f("fk_accounts_principal_id_principals")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_accounts_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("login_digest", name=op.f("uq_accounts_login_digest")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_principal_id"), ["principal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_subject_id"), ["subject_id"], unique=False)
    op.create_table(
        "account_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("csrf_digest", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_sessions_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_sessions")),
    )
    with op.batch_alter_table("account_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_sessions_account_id"), ["account_id"], unique=False)
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_key_at", ["key", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("login_attempts")
    op.drop_table("account_sessions")
    op.drop_table("accounts")
