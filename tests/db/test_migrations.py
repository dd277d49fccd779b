"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from lendshield.db import make_engine
from lendshield.db.base import Base
from lendshield.db.migrate import upgrade
from lendshield.db.models_registry import import_all_models


def _describe(diff: object) -> str:
    """One line per difference, naming the table so the owning domain can be told."""
    if isinstance(diff, list):
        return "; ".join(_describe(d) for d in diff)
    op, *rest = diff  # type: ignore[misc]
    names = [getattr(x, "name", None) or str(x) for x in rest if x is not None]
    return f"{op}: {' / '.join(str(n) for n in names)}"


def _differences(url: str) -> list[str]:
    import_all_models()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, Base.metadata)
            conn.rollback()
    finally:
        engine.dispose()
    return [_describe(d) for d in diffs]


def test_sqlite_fresh_upgrade_matches_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = make_engine(url)
    upgrade(engine)
    upgrade(engine)  # idempotent
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("SELECT next_seq FROM ledger_head")).scalar() == 0
        conn.rollback()
    engine.dispose()
    assert _differences(url) == []


@pytest.mark.postgresql
def test_postgresql_fresh_upgrade_matches_models(pg_database: str) -> None:
    # pg_database is migrated from empty by the session fixture.
    assert _differences(pg_database) == []


def test_every_model_table_is_created(db_url: str) -> None:
    import_all_models()
    engine = make_engine(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
