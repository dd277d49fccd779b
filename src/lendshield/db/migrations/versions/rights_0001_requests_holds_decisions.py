"""rights: requests, verification codes, holds, tombstones, automated decisions, alerts

Revision ID: rights_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "rights_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("rights",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "rights_decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("decision_type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("input_categories", sa.JSON(), nullable=False),
        sa.Column("logic_summary", sa.String(length=2000), nullable=False),
        sa.Column("solely_automated", sa.Boolean(), nullable=False),
        sa.Column("made_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=36), nullable=False),
        sa.Column("review_outcome", sa.String(length=1000), nullable=True),
        sa.Column("reviewed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_rights_decisions_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_decisions")),
    )
    op.create_index(op.f("ix_rights_decisions_subject_id"), "rights_decisions", ["subject_id"], unique=False)
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("filed_by", sa.String(length=36), nullable=False),
        sa.Column("filed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("verified_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_by", sa.String(length=16), nullable=True),
        sa.Column("owner_id", sa.String(length=36), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("original_due_on", sa.Date(), nullable=False),
        sa.Column("extension_reason", sa.String(length=1000), nullable=True),
        sa.Column("deadline_estimated_years", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=1000), nullable=True),
        sa.Column("refusal_reason", sa.String(length=1000), nullable=True),
        sa.Column("package", sa.LargeBinary(), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("body_digest", sa.LargeBinary(length=32), nullable=True),
        sa.CheckConstraint("status <> 'refused' OR refusal_reason IS NOT NULL", name=op.f("ck_rights_requests_refusal_has_reason")),
        sa.CheckConstraint(
            "status IN ('unverified', 'open', 'in_progress', 'held', 'fulfilled', 'refused')", name=op.f("ck_rights_requests_status")
        ),
        sa.CheckConstraint(
            "type IN ('access', 'portability', 'correction', 'deletion', 'withdrawal', 'restriction', 'explanation', 'report')",
            name=op.f("ck_rights_requests_type"),
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_rights_requests_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_requests")),
        sa.UniqueConstraint("filed_by", "idempotency_key", name=op.f("uq_rights_requests_filed_by_idempotency_key")),
    )
    op.create_index("ix_rights_requests_status_due", "rights_requests", ["status", "due_on"], unique=False)
    op.create_index(op.f("ix_rights_requests_subject_id"), "rights_requests", ["subject_id"], unique=False)
    op.create_table(
        "rights_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('due_soon', 'overdue', 'calendar_missing', 'new_report')", name=op.f("ck_rights_alerts_kind")),
        sa.ForeignKeyConstraint(["request_id"], ["rights_requests.id"], name=op.f("fk_rights_alerts_request_id_rights_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_alerts")),
    )
    op.create_index(op.f("ix_rights_alerts_request_id"), "rights_alerts", ["request_id"], unique=False)
    op.create_table(
        "rights_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["rights_requests.id"], name=op.f("fk_rights_codes_request_id_rights_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_codes")),
    )
    op.create_index(op.f("ix_rights_codes_request_id"), "rights_codes", ["request_id"], unique=False)
    op.create_table(
        "rights_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=36), nullable=True),
        sa.CheckConstraint("kind IN ('legal_hold', 'restriction')", name=op.f("ck_rights_holds_kind")),
        sa.ForeignKeyConstraint(["request_id"], ["rights_requests.id"], name=op.f("fk_rights_holds_request_id_rights_requests")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_rights_holds_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_holds")),
    )
    op.create_index(op.f("ix_rights_holds_subject_id"), "rights_holds", ["subject_id"], unique=False)
    op.create_table(
        "rights_tombstones",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("deleted_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ground", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("deleted_by", sa.String(length=36), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["rights_requests.id"], name=op.f("fk_rights_tombstones_request_id_rights_requests")),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_rights_tombstones_subject_id_subjects")),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_rights_tombstones")),
    )


def downgrade() -> None:
    op.drop_table("rights_tombstones")
    op.drop_index(op.f("ix_rights_holds_subject_id"), table_name="rights_holds")
    op.drop_table("rights_holds")
    op.drop_index(op.f("ix_rights_codes_request_id"), table_name="rights_codes")
    op.drop_table("rights_codes")
    op.drop_index(op.f("ix_rights_alerts_request_id"), table_name="rights_alerts")
    op.drop_table("rights_alerts")
    op.drop_index(op.f("ix_rights_requests_subject_id"), table_name="rights_requests")
    op.drop_index("ix_rights_requests_status_due", table_name="rights_requests")
    op.drop_table("rights_requests")
    op.drop_index(op.f("ix_rights_decisions_subject_id"), table_name="rights_decisions")
    op.drop_table("rights_decisions")
