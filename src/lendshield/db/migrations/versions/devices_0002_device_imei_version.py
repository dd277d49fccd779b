"""devices: which version of the borrower's vault field device_imei is the phone's IMEI

Revision ID: devices_0002
Revises: devices_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "devices_0002"
down_revision: str | Sequence[str] | None = "devices_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: devices enrolled before this revision have no IMEI in the vault yet.
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("imei_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("imei_version")
