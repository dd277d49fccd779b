"""devices: financed devices, lock requests and approvals, signed commands

Revision ID: devices_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "devices_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("devices",)
depends_on: str | Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=36), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=False),
        sa.Column("enrolled_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('active', 'restricted', 'locked', 'released')", name=op.f("ck_devices_state")),
        sa.ForeignKeyConstraint(["borrower_id"], ["subjects.id"], name=op.f("fk_devices_borrower_id_subjects")),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_devices_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_borrower_id"), ["borrower_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_devices_loan_id"), ["loan_id"], unique=False)
    op.create_table(
        "device_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("command", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("reason_text", sa.String(length=1000), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=False),
        sa.Column("requested_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'denied', 'expired', 'issued')", name=op.f("ck_device_requests_status")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_device_requests_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_requests")),
    )
    with op.batch_alter_table("device_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_requests_device_id"), ["device_id"], unique=False)
    op.create_table(
        "device_approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("approver_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["device_requests.id"], name=op.f("fk_device_approvals_request_id_device_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_approvals")),
        sa.UniqueConstraint("request_id", "approver_id", name=op.f("uq_device_approvals_request_id_approver_id")),
        sa.UniqueConstraint("request_id", "role", name=op.f("uq_device_approvals_request_id_role")),
    )
    with op.batch_alter_table("device_approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_approvals_request_id"), ["request_id"], unique=False)
    op.create_table(
        "device_commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("command", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("final_notice", sa.Boolean(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("issued_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_seq", sa.Integer(), nullable=False),
        sa.Column("acked_at", lendshield.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ack_token", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_device_commands_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_commands")),
        sa.UniqueConstraint("device_id", "seq", name=op.f("uq_device_commands_device_id_seq")),
    )
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_commands_device_id"), ["device_id"], unique=False)


def downgrade() -> None:
    op.drop_table("device_commands")
    op.drop_table("device_approvals")
    op.drop_table("device_requests")
    op.drop_table("devices")
