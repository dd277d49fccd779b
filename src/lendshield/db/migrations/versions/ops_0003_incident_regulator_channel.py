"""ops: an incident keeps how the regulator was notified, and when its notice-deadline alert went out

Revision ID: ops_0003
Revises: ops_0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "ops_0003"
down_revision: str | Sequence[str] | None = "ops_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ops_incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("regulator_channel", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("notice_overdue_alerted_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ops_incidents", schema=None) as batch_op:
        batch_op.drop_column("notice_overdue_alerted_at")
        batch_op.drop_column("regulator_channel")
