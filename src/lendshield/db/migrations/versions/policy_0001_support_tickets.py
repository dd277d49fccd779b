"""policy: support tickets (case state for the open_ticket condition)

Revision ID: policy_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "policy_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("policy",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("opened_by", sa.String(length=36), nullable=False),
        sa.Column("opened_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_support_tickets_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
    )
    op.create_index(op.f("ix_support_tickets_subject_id"), "support_tickets", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_support_tickets_subject_id"), table_name="support_tickets")
    op.drop_table("support_tickets")
