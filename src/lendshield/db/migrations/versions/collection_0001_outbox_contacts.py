"""collection: outbox of the built-in adapter, contacts, recordings, complaints, refusals, preferences

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
    op.create_table(
        "collection_preferences",
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_collection_preferences_borrower_id_subjects")),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_collection_preferences")),
    )
    op.create_table(
        "collection_contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("target_role", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("collector_id", sa.String(length=36), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("preset", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("next_allowed_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=True),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("ledger_seq", sa.Integer(), nullable=True),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('call', 'sms', 'visit')", name=op.f("ck_collection_contacts_channel")),
        sa.CheckConstraint("target_role IN ('debtor', 'guarantor', 'third_party')", name=op.f("ck_collection_contacts_target_role")),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_collection_contacts_borrower_id_subjects")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_collection_contacts_loan_id_loans")),
        sa.ForeignKeyConstraint(["target_id"], ["subjects.id"], name=op.f("fk_collection_contacts_target_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_contacts")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_collection_contacts_code_digest")),
    )
    op.create_index("ix_collection_contacts_borrower_at", "collection_contacts", ["borrower_id", "created_at"], unique=False)
    op.create_index(op.f("ix_collection_contacts_collector_id"), "collection_contacts", ["collector_id"], unique=False)
    op.create_index(op.f("ix_collection_contacts_loan_id"), "collection_contacts", ["loan_id"], unique=False)
    op.create_index(op.f("ix_collection_contacts_target_id"), "collection_contacts", ["target_id"], unique=False)
    op.create_table(
        "collection_complaints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("filed_by", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=2000), nullable=True),
        sa.Column("resolved_by", sa.String(length=36), nullable=True),
        sa.Column("opened_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('complaint', 'dispute')", name=op.f("ck_collection_complaints_kind")),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_collection_complaints_status")),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_collection_complaints_borrower_id_subjects")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["collection_contacts.id"], name=op.f("fk_collection_complaints_contact_id_collection_contacts")
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_collection_complaints_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_complaints")),
    )
    op.create_index(op.f("ix_collection_complaints_borrower_id"), "collection_complaints", ["borrower_id"], unique=False)
    op.create_index(op.f("ix_collection_complaints_loan_id"), "collection_complaints", ["loan_id"], unique=False)
    op.create_table(
        "collection_recordings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_name", sa.String(length=80), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retain_until", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_collection_recordings_borrower_id_subjects")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["collection_contacts.id"], name=op.f("fk_collection_recordings_contact_id_collection_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_recordings")),
    )
    op.create_index(op.f("ix_collection_recordings_borrower_id"), "collection_recordings", ["borrower_id"], unique=False)
    op.create_index(op.f("ix_collection_recordings_contact_id"), "collection_recordings", ["contact_id"], unique=False)
    op.create_table(
        "collection_refusals",
        sa.Column("target_id", sa.String(length=36), nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("recorded_by", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_collection_refusals_borrower_id_subjects")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["collection_contacts.id"], name=op.f("fk_collection_refusals_contact_id_collection_contacts")
        ),
        sa.ForeignKeyConstraint(["target_id"], ["subjects.id"], name=op.f("fk_collection_refusals_target_id_subjects")),
        sa.PrimaryKeyConstraint("target_id", "borrower_id", name=op.f("pk_collection_refusals")),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_collection_recordings_contact_id"), table_name="collection_recordings")
    op.drop_index(op.f("ix_collection_recordings_borrower_id"), table_name="collection_recordings")
    op.drop_index(op.f("ix_collection_complaints_loan_id"), table_name="collection_complaints")
    op.drop_index(op.f("ix_collection_complaints_borrower_id"), table_name="collection_complaints")
    op.drop_index(op.f("ix_collection_contacts_target_id"), table_name="collection_contacts")
    op.drop_index(op.f("ix_collection_contacts_loan_id"), table_name="collection_contacts")
    op.drop_index(op.f("ix_collection_contacts_collector_id"), table_name="collection_contacts")
    op.drop_table("collection_refusals")
    op.drop_table("collection_recordings")
    op.drop_table("collection_complaints")
    op.drop_table("collection_contacts")
    op.drop_table("collection_preferences")
    op.drop_index(op.f("ix_collection_outbox_subject_id"), table_name="collection_outbox")
    op.drop_table("collection_outbox")
