"""ops: backups, restore drills and the job queue

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

    op.create_table(
        "ops_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("run_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unique_key", sa.String(length=120), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_ops_jobs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_jobs")),
    )
    with op.batch_alter_table("ops_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_ops_jobs_due", ["status", "run_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ops_jobs_unique_key"), ["unique_key"], unique=False)

    op.create_table(
        "ops_incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.String(length=2000), nullable=False),
        sa.Column("harm", sa.String(length=2000), nullable=False),
        sa.Column("remedies", sa.String(length=2000), nullable=False),
        sa.Column("advice", sa.String(length=2000), nullable=False),
        sa.Column("contact", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("regulator_notified_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_incidents")),
    )
    op.create_table(
        "ops_incident_subjects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("notified_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["ops_incidents.id"], name=op.f("fk_ops_incident_subjects_incident_id_ops_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_incident_subjects")),
        sa.UniqueConstraint("incident_id", "subject_ref", name=op.f("uq_ops_incident_subjects_incident_id_subject_ref")),
    )
    with op.batch_alter_table("ops_incident_subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ops_incident_subjects_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "ops_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_reports")),
    )


def downgrade() -> None:
    op.drop_table("ops_reports")
    op.drop_table("ops_incident_subjects")
    op.drop_table("ops_incidents")
    op.drop_table("ops_jobs")
    op.drop_table("ops_drills")
    op.drop_table("ops_backups")
