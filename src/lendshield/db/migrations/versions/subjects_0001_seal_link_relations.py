"""subjects: seal the relation of each emergency-contact link under the contact's data key

The relation (配偶, 父母 ...) was kept in clear in ``subject_links.relation``. Each one is now
sealed under the contact's data key, bound to the borrower (``subjects.links``), and the clear
column is dropped. A contact already crypto-shredded has no data key left: its relation is
dropped with the column instead of being kept in clear.

Existing rows need the key provider: the one the caller put in the Alembic config's attributes
(``keys``), or else the one the settings name (as `lendshield init` runs it). An empty table needs
none.

Revision ID: subjects_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "subjects_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("subjects",)
depends_on: str | Sequence[str] | None = "core_0001"

_links = sa.table(
    "subject_links",
    sa.column("id", sa.Integer),
    sa.column("borrower_id", sa.String),
    sa.column("contact_id", sa.String),
    sa.column("relation", sa.String),
    sa.column("relation_sealed", sa.LargeBinary),
)
_keys = sa.table(
    "subject_keys", sa.column("subject_id", sa.String), sa.column("kek_version", sa.String), sa.column("wrapped", sa.LargeBinary)
)


def _provider() -> Any:
    given = context.config.attributes.get("keys")
    if given is not None:
        return given
    from lendshield.runtime import make_key_provider
    from lendshield.settings import Settings

    return make_key_provider(Settings())


def _rows(bind: sa.Connection, *columns: Any) -> list[Any]:
    query = sa.select(_links.c.id, _links.c.borrower_id, _links.c.contact_id, _keys.c.kek_version, _keys.c.wrapped, *columns)
    return list(bind.execute(query.select_from(_links.outerjoin(_keys, _keys.c.subject_id == _links.c.contact_id)).order_by(_links.c.id)))


def _cipher(provider: Any, contact_id: str, kek_version: str, wrapped: bytes) -> Any:
    from lendshield.crypto import FieldCipher, unwrap_data_key

    return FieldCipher(contact_id, unwrap_data_key(provider, contact_id, kek_version, bytes(wrapped)))


def upgrade() -> None:
    from lendshield.subjects.links import seal_relation

    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relation_sealed", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    rows = _rows(bind, _links.c.relation)
    provider = _provider() if any(r.wrapped is not None for r in rows) else None
    for row in rows:
        sealed = None
        if row.wrapped is not None:
            sealed = seal_relation(_cipher(provider, row.contact_id, row.kek_version, row.wrapped), row.borrower_id, row.relation)
        bind.execute(sa.update(_links).where(_links.c.id == row.id).values(relation_sealed=sealed))
    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.drop_column("relation")


def downgrade() -> None:
    from lendshield.subjects.links import open_relation

    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relation", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    rows = _rows(bind, _links.c.relation_sealed)
    provider = _provider() if any(r.wrapped is not None and r.relation_sealed is not None for r in rows) else None
    for row in rows:
        relation = ""  # a shredded contact's relation is gone for good
        if row.wrapped is not None and row.relation_sealed is not None:
            cipher = _cipher(provider, row.contact_id, row.kek_version, row.wrapped)
            relation = open_relation(cipher, row.borrower_id, bytes(row.relation_sealed))
        bind.execute(sa.update(_links).where(_links.c.id == row.id).values(relation=relation))
    with op.batch_alter_table("subject_links", schema=None) as batch_op:
        batch_op.alter_column("relation", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column("relation_sealed")
