"""ops: records of backups and restore drills

Revision ID: ops_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "ops_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ops",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "ops_backups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("ledger_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_backups")),
        sa.UniqueConstraint("name", name=op.f("uq_ops_backups_name")),
    )
    op.create_table(
        "ops_drills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("backup_name", sa.String(length=200), nullable=False),
        sa.Column("started_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_drills")),
    )


def downgrade() -> None:
    op.drop_table("ops_drills")
    op.drop_table("ops_backups")
