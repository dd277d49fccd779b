"""Consistent database snapshots: SQLite's online backup API, or pg_dump in an exported snapshot."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from lendshield.db.base import Base
from lendshield.db.models_registry import import_all_models
from lendshield.ops.errors import BackupFailed


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://...` -> `postgresql://...` for the PostgreSQL command-line tools."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def table_names() -> list[str]:
    import_all_models()
    return [t.name for t in Base.metadata.sorted_tables]


def count_rows(conn: object) -> dict[str, int]:
    from sqlalchemy import Connection, table

    assert isinstance(conn, Connection)
    return {name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one()) for name in table_names()}


def snapshot_sqlite(engine: Engine, dst: Path) -> dict[str, int]:
    """Copy the live database page by page (consistent even while writers continue)."""
    src_path = make_url(str(engine.url)).database
    if not src_path:
        raise BackupFailed("in-memory SQLite databases cannot be backed up")
    src = sqlite3.connect(src_path)
    out = sqlite3.connect(dst)
    try:
        src.backup(out)
    except (sqlite3.Error, OSError) as exc:
        raise BackupFailed(f"the SQLite snapshot failed: {type(exc).__name__}") from exc
    finally:
        out.close()
        src.close()
    from sqlalchemy import create_engine

    snap = create_engine(f"sqlite:///{dst}")
    try:
        with snap.connect() as conn:
            return count_rows(conn)
    finally:
        snap.dispose()


def snapshot_postgres(engine: Engine, dst: Path) -> dict[str, int]:
    """pg_dump in the very snapshot in which the rows are counted (pg_export_snapshot)."""
    url = libpq_url(engine.url.render_as_string(hide_password=False))
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn, conn.begin():
        snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = count_rows(conn)
        # The exported snapshot lives only while this transaction is open: dump inside it.
        proc = subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot_id}",
                f"--file={dst}",
                f"--dbname={url}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise BackupFailed(f"pg_dump failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
    return counts
