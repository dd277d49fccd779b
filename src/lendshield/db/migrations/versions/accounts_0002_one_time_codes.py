"""accounts: one-time codes for borrower sign-in, registration and password reset

Revision ID: accounts_0002
Revises: accounts_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "accounts_0002"
down_revision: str | Sequence[str] | None = "accounts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_codes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("login_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('sign_in', 'register', 'reset')", name=op.f("ck_account_codes_purpose")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_account_codes_attempts")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_codes_account_id_accounts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_account_codes_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_codes")),
    )
    with op.batch_alter_table("account_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_codes_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_codes_subject_id"), ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_table("account_codes")
