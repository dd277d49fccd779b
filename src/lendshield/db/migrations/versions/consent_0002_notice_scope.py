"""consent: each notice has a scope, so a notice of one purpose (the device notice) is never the current general notice

Revision ID: consent_0002
Revises: consent_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "consent_0002"
down_revision: str | Sequence[str] | None = "consent_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=16), nullable=False, server_default="general"))
    # Device notices published before scopes existed carry the devices package's version prefix.
    op.execute("UPDATE consent_notices SET scope = 'device' WHERE version LIKE 'device-%'")


def downgrade() -> None:
    with op.batch_alter_table("consent_notices", schema=None) as batch_op:
        batch_op.drop_column("scope")
