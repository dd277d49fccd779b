"""watch: the alert outbox (webhook and e-mail deliveries to the protection officer)

Revision ID: watch_0002
Revises: watch_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "watch_0002"
down_revision: str | Sequence[str] | None = "watch_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watch_alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_watch_alert_deliveries_attempts")),
        sa.CheckConstraint("channel IN ('webhook', 'email')", name=op.f("ck_watch_alert_deliveries_channel")),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f("ck_watch_alert_deliveries_status")),
        sa.ForeignKeyConstraint(["alert_id"], ["watch_alerts.id"], name=op.f("fk_watch_alert_deliveries_alert_id_watch_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_alert_deliveries")),
    )
    with op.batch_alter_table("watch_alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_alert_deliveries_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index("ix_watch_alert_deliveries_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("watch_alert_deliveries")
