"""SQLite's WAL is checkpointed by a thread of the engine's own (``db.engine._Checkpointer``), not
by whichever commit crosses the size threshold, and the thread ends with the engine."""

from __future__ import annotations

import gc
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from lendshield.db import engine as engine_module
from lendshield.db import make_engine
from lendshield.db.engine import _CHECKPOINTERS


def _wait_for(predicate, seconds: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "ck.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            # Commits checkpoint only past the safety net, far above a second of commits.
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == engine_module.SAFETY_CHECKPOINT_PAGES
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        for i in range(300):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "x" * 500 + str(i)})
        checkpointer = _CHECKPOINTERS[engine]
        # Everything committed reaches the database file within a few of the thread's rounds.
        done = lambda: checkpointer.last is not None and 0 < checkpointer.last[1] == checkpointer.last[2]  # noqa: E731
        assert _wait_for(done)
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as ro:
            assert ro.execute("SELECT count(*) FROM t").fetchone()[0] == 300
    finally:
        engine.dispose()


def test_without_the_thread_the_wal_is_checkpointed_only_past_the_safety_net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The control: stop the thread, and the frames stay in the WAL past SQLite's usual 1,000 pages.
    engine = make_engine(f"sqlite:///{tmp_path / 'ck.db'}")
    try:
        _CHECKPOINTERS[engine].stop()
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        for i in range(1200):  # more than the 1,000 pages of SQLite's own threshold
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": "y" * 3000 + str(i)})
        wal = tmp_path / "ck.db-wal"
        assert wal.stat().st_size > 1000 * 4096
    finally:
        engine.dispose()


def test_the_thread_stops_with_dispose_and_with_a_collected_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "CHECKPOINT_SECONDS", 0.01)
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    first = _CHECKPOINTERS[engine]
    assert _wait_for(lambda: first.runs > 0)
    engine.dispose()
    assert _wait_for(lambda: not first.alive)

    other = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    second = _CHECKPOINTERS[other]
    del other
    gc.collect()
    assert _wait_for(lambda: not second.alive)


def test_memory_databases_have_no_checkpointer() -> None:
    engine = make_engine("sqlite://")
    try:
        assert engine not in _CHECKPOINTERS
    finally:
        engine.dispose()


def test_an_unused_engine_creates_no_database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "CHECKPOINT_SECONDS", 0.01)
    path = tmp_path / "odd name #1?.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        checkpointer = _CHECKPOINTERS[engine]
        time.sleep(0.2)
        assert checkpointer.runs == 0
        assert not path.exists()
        with engine.begin() as conn:  # once the database exists the thread finds it
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        assert _wait_for(lambda: checkpointer.runs > 0)
    finally:
        engine.dispose()
