"""loans: idempotent loan events and financed devices

Revision ID: loans_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "loans_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("loans",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "loan_events",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_loan_events_loan_id_loans")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_loan_events")),
    )
    op.create_index(op.f("ix_loan_events_loan_id"), "loan_events", ["loan_id"], unique=False)
    op.create_table(
        "loan_devices",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("asset_id", sa.String(length=64), nullable=False),
        sa.Column("financed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_loan_devices_loan_id_loans")),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loan_devices")),
    )


def downgrade() -> None:
    op.drop_table("loan_devices")
    op.drop_index(op.f("ix_loan_events_loan_id"), table_name="loan_events")
    op.drop_table("loan_events")
