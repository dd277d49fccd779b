"""ledger: on SQLite the entry's sequence number is the table's rowid; no index on the action

An append writes every b-tree page it touches into the WAL at commit, and each page costs more
than the statements themselves. On SQLite a ``BIGINT`` primary key is a second b-tree beside the
rowid one; declared ``INTEGER`` it *is* the rowid, so the entry is stored once, in sequence
order (the table is rebuilt to get there). The index on ``action`` goes on both databases:
every query that filters on an action also bounds the sequence, the time or the actor, and the
entries of an actor stay indexed.

Revision ID: ledger_0003
Revises: ledger_0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_0003"
down_revision: str | Sequence[str] | None = "ledger_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_ledger_entries_action", table_name="ledger_entries")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("ledger_entries", recreate="always") as batch:
            batch.alter_column("seq", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False, autoincrement=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("ledger_entries", recreate="always") as batch:
            batch.alter_column("seq", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False, autoincrement=False)
    op.create_index("ix_ledger_entries_action", "ledger_entries", ["action"])
