"""ops: reports carry keep_until; the database refuses to delete one before it (PIPL Art. 56)

Revision ID: ops_0002
Revises: ops_0001
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import lendshield.db.base

revision: str = "ops_0002"
down_revision: str | Sequence[str] | None = "ops_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP_YEARS = 3
MESSAGE = "ops_reports: a report is kept until its keep_until (PIPL Art. 56)"


def _plus_years(at: datetime) -> datetime:
    try:
        return at.replace(year=at.year + KEEP_YEARS)
    except ValueError:  # 29 February
        return at.replace(year=at.year + KEEP_YEARS, month=3, day=1)


def upgrade() -> None:
    with op.batch_alter_table("ops_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keep_until", lendshield.db.base.UTCDateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    reports = sa.table(
        "ops_reports",
        sa.column("id", sa.Integer()),
        sa.column("created_at", lendshield.db.base.UTCDateTime(timezone=True)),
        sa.column("keep_until", lendshield.db.base.UTCDateTime(timezone=True)),
    )
    for row_id, created_at in bind.execute(sa.select(reports.c.id, reports.c.created_at)).all():
        at = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
        bind.execute(reports.update().where(reports.c.id == row_id).values(keep_until=_plus_years(at)))
    with op.batch_alter_table("ops_reports", schema=None) as batch_op:
        batch_op.alter_column("keep_until", existing_type=lendshield.db.base.UTCDateTime(timezone=True), nullable=False)
    if bind.dialect.name == "postgresql":
        op.execute(
            f"""CREATE FUNCTION ops_reports_keep() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF OLD.keep_until > now() THEN
                RAISE EXCEPTION '{MESSAGE}';
              END IF;
              RETURN OLD;
            END $$"""
        )
        op.execute("CREATE TRIGGER ops_reports_keep BEFORE DELETE ON ops_reports FOR EACH ROW EXECUTE FUNCTION ops_reports_keep()")
    else:
        # SQLAlchemy stores SQLite datetimes as UTC 'YYYY-MM-DD HH:MM:SS.ffffff', which compares as text.
        op.execute(
            f"""CREATE TRIGGER ops_reports_keep BEFORE DELETE ON ops_reports
            WHEN OLD.keep_until > strftime('%Y-%m-%d %H:%M:%f', 'now')
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"""
        )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS ops_reports_keep" + (" ON ops_reports" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ops_reports_keep()")
    with op.batch_alter_table("ops_reports", schema=None) as batch_op:
        batch_op.drop_column("keep_until")
