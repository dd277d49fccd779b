"""transfers: recipients, exports and provisions, fingerprint marks, cross-border volumes

Revision ID: transfers_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "transfers_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("transfers",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "transfer_recipients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("contract_ref", sa.String(length=200), nullable=False),
        sa.Column("mechanism", sa.String(length=24), nullable=True),
        sa.Column("mechanism_evidence", sa.String(length=300), nullable=True),
        sa.Column("mechanism_valid_from", sa.Date(), nullable=True),
        sa.Column("mechanism_valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("updated_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('third_party', 'entrusted_processor')", name=op.f("ck_transfer_recipients_kind")),
        sa.CheckConstraint(
            "mechanism IS NULL OR mechanism IN ('security_assessment', 'standard_contract', 'certification', 'exemption')",
            name=op.f("ck_transfer_recipients_mechanism"),
        ),
        sa.CheckConstraint("status IN ('active', 'retired')", name=op.f("ck_transfer_recipients_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_recipients")),
    )
    op.create_table(
        "transfer_volumes",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("sensitive_people", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_transfer_volumes")),
    )
    op.create_table(
        "transfer_exports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("made_by", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=True),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("canaries", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("format IN ('csv', 'jsonl', 'xlsx')", name=op.f("ck_transfer_exports_format")),
        sa.CheckConstraint("kind IN ('export', 'provision')", name=op.f("ck_transfer_exports_kind")),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["transfer_recipients.id"], name=op.f("fk_transfer_exports_recipient_id_transfer_recipients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_exports")),
    )
    with op.batch_alter_table("transfer_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_exports_recipient_id"), ["recipient_id"], unique=False)

    op.create_table(
        "transfer_volume_people",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("counted_people", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["transfer_recipients.id"], name=op.f("fk_transfer_volume_people_recipient_id_transfer_recipients")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_transfer_volume_people_subject_id_subjects")),
        sa.PrimaryKeyConstraint("year", "subject_id", name=op.f("pk_transfer_volume_people")),
    )
    op.create_table(
        "transfer_export_subjects",
        sa.Column("export_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["transfer_exports.id"], name=op.f("fk_transfer_export_subjects_export_id_transfer_exports")
        ),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_transfer_export_subjects_subject_id_subjects")),
        sa.PrimaryKeyConstraint("export_id", "subject_id", name=op.f("pk_transfer_export_subjects")),
    )
    with op.batch_alter_table("transfer_export_subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transfer_export_subjects_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "transfer_marks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("export_id", sa.String(length=36), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.CheckConstraint("kind IN ('value', 'canary', 'weak', 'rowref')", name=op.f("ck_transfer_marks_kind")),
        sa.ForeignKeyConstraint(["export_id"], ["transfer_exports.id"], name=op.f("fk_transfer_marks_export_id_transfer_exports")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_marks")),
    )
    with op.batch_alter_table("transfer_marks", schema=None) as batch_op:
        batch_op.create_index("ix_transfer_marks_digest", ["digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_transfer_marks_export_id"), ["export_id"], unique=False)


def downgrade() -> None:
    for table in (
        "transfer_marks",
        "transfer_export_subjects",
        "transfer_volume_people",
        "transfer_exports",
        "transfer_volumes",
        "transfer_recipients",
    ):
        op.drop_table(table)
