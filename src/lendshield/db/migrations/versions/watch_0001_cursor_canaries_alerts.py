"""watch: the ledger cursor, canaries with their value digests, alerts with evidence and notes

Revision ID: watch_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "watch_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("watch",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "watch_cursor",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_cursor")),
    )
    op.create_table(
        "watch_canaries",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("registered_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_watch_canaries_subject_id_subjects")),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_watch_canaries")),
        sa.UniqueConstraint("subject_ref", name=op.f("uq_watch_canaries_subject_ref")),
    )
    op.create_table(
        "watch_canary_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("canary_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("kind IN ('resident_id', 'mobile', 'bank_card')", name=op.f("ck_watch_canary_values_kind")),
        sa.ForeignKeyConstraint(["canary_id"], ["watch_canaries.subject_id"], name=op.f("fk_watch_canary_values_canary_id_watch_canaries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_canary_values")),
        sa.UniqueConstraint("kind", "digest", name=op.f("uq_watch_canary_values_kind_digest")),
    )
    with op.batch_alter_table("watch_canary_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_canary_values_canary_id"), ["canary_id"], unique=False)
    op.create_table(
        "watch_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("window_key", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("measure", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("trigger_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name=op.f("ck_watch_alerts_severity")),
        sa.CheckConstraint("status IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_watch_alerts_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_alerts")),
        sa.UniqueConstraint("rule_id", "actor", "window_key", name=op.f("uq_watch_alerts_rule_id_actor_window_key")),
    )
    with op.batch_alter_table("watch_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_alerts_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_watch_alerts_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index("ix_watch_alerts_status_severity", ["status", "severity"], unique=False)
    op.create_table(
        "watch_alert_entries",
        sa.Column("alert_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["watch_alerts.id"], name=op.f("fk_watch_alert_entries_alert_id_watch_alerts")),
        sa.PrimaryKeyConstraint("alert_id", "seq", name=op.f("pk_watch_alert_entries")),
    )
    op.create_table(
        "watch_alert_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["watch_alerts.id"], name=op.f("fk_watch_alert_notes_alert_id_watch_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_alert_notes")),
    )
    with op.batch_alter_table("watch_alert_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_alert_notes_alert_id"), ["alert_id"], unique=False)


def downgrade() -> None:
    op.drop_table("watch_alert_notes")
    op.drop_table("watch_alert_entries")
    op.drop_table("watch_alerts")
    op.drop_table("watch_canary_values")
    op.drop_table("watch_canaries")
    op.drop_table("watch_cursor")
