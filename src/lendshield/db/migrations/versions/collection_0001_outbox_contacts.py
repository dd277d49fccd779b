"""collection: outbox of the built-in adapter

Revision ID: collection_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "collection_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("collection",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "collection_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_collection_outbox_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_outbox")),
    )
    op.create_index(op.f("ix_collection_outbox_subject_id"), "collection_outbox", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_collection_outbox_subject_id"), table_name="collection_outbox")
    op.drop_table("collection_outbox")
