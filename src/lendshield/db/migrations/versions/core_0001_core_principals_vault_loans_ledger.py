"""core: principals, vault, loans, ledger

Revision ID: core_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "core_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_entries_subject_ref"), ["subject_ref"], unique=False)

    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    ledger_head = sa.table("ledger_head", sa.column("id", sa.Integer()), sa.column("next_seq", sa.BigInteger()))
    op.bulk_insert(ledger_head, [{"id": 1, "next_seq": 0}])
    op.create_table(
        "principals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("name", name=op.f("uq_principals_name")),
    )
    op.create_table(
        "subjects",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("shredded_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shred_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("kind IN ('borrower', 'contact', 'canary')", name=op.f("ck_subjects_kind")),
        sa.CheckConstraint("status IN ('active', 'shredded')", name=op.f("ck_subjects_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subjects")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"], ["principals.id"], name=op.f("fk_api_tokens_principal_id_principals"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_principal_id"), ["principal_id"], unique=False)

    op.create_table(
        "blind_indexes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_blind_indexes_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_indexes")),
    )
    with op.batch_alter_table("blind_indexes", schema=None) as batch_op:
        batch_op.create_index("ix_blind_indexes_lookup", ["field", "digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_blind_indexes_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "field_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_field_values_subject_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_values")),
        sa.UniqueConstraint("subject_id", "field", "version", name=op.f("uq_field_values_subject_id_field_version")),
    )
    with op.batch_alter_table("field_values", schema=None) as batch_op:
        batch_op.create_index("ix_field_values_current", ["subject_id", "current"], unique=False)

    op.create_table(
        "loans",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("principal_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("overdue_days", sa.Integer(), nullable=False),
        sa.Column("assigned_collector_id", sa.String(length=36), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_loans_borrower_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_assigned_collector_id"), ["assigned_collector_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_loans_borrower_id"), ["borrower_id"], unique=False)

    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("kek_version", sa.String(length=32), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(length=128), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_subject_keys_subject_id_subjects")),
        sa.PrimaryKeyConstraint("subject_id", name=op.f("pk_subject_keys")),
    )
    with op.batch_alter_table("subject_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_keys_kek_version"), ["kek_version"], unique=False)

    op.create_table(
        "subject_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_subject_links_borrower_id_subjects")),
        sa.ForeignKeyConstraint(["contact_id"], ["subjects.id"], name=op.f("fk_subject_links_contact_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_links")),
        sa.UniqueConstraint("borrower_id", "contact_id", name=op.f("uq_subject_links_borrower_id_contact_id")),
    )
    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_links_borrower_id"), ["borrower_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_links_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "vault_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("value_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"], name=op.f("fk_vault_tokens_subject_id_subjects")),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_vault_tokens")),
        sa.UniqueConstraint("subject_id", "field", "value_digest", name=op.f("uq_vault_tokens_subject_id_field_value_digest")),
    )
    with op.batch_alter_table("vault_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vault_tokens_subject_id"), ["subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vault_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_tokens_subject_id"))

    op.drop_table("vault_tokens")
    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_links_contact_id"))
        batch_op.drop_index(batch_op.f("ix_subject_links_borrower_id"))

    op.drop_table("subject_links")
    with op.batch_alter_table("subject_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_keys_kek_version"))

    op.drop_table("subject_keys")
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_borrower_id"))
        batch_op.drop_index(batch_op.f("ix_loans_assigned_collector_id"))

    op.drop_table("loans")
    with op.batch_alter_table("field_values", schema=None) as batch_op:
        batch_op.drop_index("ix_field_values_current")

    op.drop_table("field_values")
    with op.batch_alter_table("blind_indexes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blind_indexes_subject_id"))
        batch_op.drop_index("ix_blind_indexes_lookup")

    op.drop_table("blind_indexes")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_principal_id"))

    op.drop_table("api_tokens")
    op.drop_table("subjects")
    op.drop_table("principals")
    op.drop_table("ledger_head")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_subject_ref"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_actor"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_action"))

    op.drop_table("ledger_entries")
