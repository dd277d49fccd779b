"""Autocommit units of work (``UnitSession.statement_autocommit``, the masked read's): no
transaction is begun, each statement is its own, the ledger entry is one atomic statement, ORM
work turns the lane into an ordinary transaction, and the connection goes back to the pool
transactional. On both backends; SQLite's writers queue across processes."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from lendshield import ledger
from lendshield.db.engine import SQLiteWriters, UnitSession, _leaf_hash, statement_lane
from lendshield.ledger.entry import leaf_hash
from lendshield.ledger.models import LedgerEntryRow, LedgerHead
from lendshield.ledger.prepared import Prepared
from lendshield.principals.models import PrincipalRow
from lendshield.runtime import Runtime

WHEN = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
_HEAD = Prepared(select(LedgerHead.next_seq).where(LedgerHead.id == 1))


def _entry(n: int) -> ledger.Entry:
    return ledger.Entry(time=WHEN, actor=f"auto-{n}", action="test.autocommit", object=f"n:{n}", details={"n": n})


def _entries(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntryRow)) or 0)


def _autocommit(rt: Runtime) -> UnitSession:
    session = rt.sessions()
    assert isinstance(session, UnitSession)
    session.statement_autocommit = True
    return session


def _in_transaction(rt: Runtime, dbapi: object) -> bool:
    if rt.engine.dialect.name == "sqlite":
        return bool(dbapi.in_transaction)  # type: ignore[attr-defined]
    return dbapi.info.transaction_status != 0  # type: ignore[attr-defined]  # psycopg: 0 is IDLE


def test_reads_begin_no_transaction(rt: Runtime) -> None:
    with _autocommit(rt) as session:
        lane = statement_lane(session)
        _HEAD.run(session)
        assert lane.autocommit
        assert not _in_transaction(rt, lane.dbapi)  # nothing held between statements
        if rt.engine.dialect.name == "sqlite":
            # No write lock while it reads: another connection takes it meanwhile, without waiting.
            other = sqlite3.connect(str(rt.engine.url.database), timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            finally:
                other.close()
        _HEAD.run(session)
        session.commit()


def test_the_entry_is_committed_by_its_own_statement(rt: Runtime) -> None:
    # An autocommit unit's entry stands once written, whatever follows: an access log errs on
    # the side of recording. An ordinary unit's is rolled back with it.
    with _autocommit(rt) as session:
        seq = ledger.append(session, _entry(1))
        assert not _in_transaction(rt, statement_lane(session).dbapi)
        session.rollback()
    with rt.sessions() as session:
        ledger.append(session, _entry(2))
        session.rollback()
    with rt.sessions() as session:
        rows = session.scalars(select(LedgerEntryRow)).all()
    assert [(r.seq, r.actor) for r in rows] == [(seq, "auto-1")]
    assert rows[0].body.encode() == _entry(1).canonical(seq)
    assert bytes(rows[0].leaf_hash) == leaf_hash(rows[0].body.encode())


def test_the_general_path_appends_in_a_transaction_of_its_own(rt: Runtime) -> None:
    odd = ledger.Entry(time=WHEN, actor="a", action="test.autocommit", object="general", reason=7)  # type: ignore[arg-type]
    assert odd.canonical_around_seq() is None
    with _autocommit(rt) as session:
        first = ledger.append(session, _entry(1))
        second = ledger.append(session, odd)
        assert not _in_transaction(rt, statement_lane(session).dbapi)
    assert second == first + 1
    with rt.sessions() as session:
        row = session.get(LedgerEntryRow, second)
        assert row is not None
        assert row.body.encode() == odd.canonical(second)


def test_orm_work_turns_the_lane_into_a_transaction(rt: Runtime) -> None:
    with _autocommit(rt) as session:
        ledger.append(session, _entry(1))
        lane = statement_lane(session)
        session.add(PrincipalRow(id="auto-1", name="auto 1", kind="staff", roles=["auditor"], active=True, created_at=WHEN))
        session.flush()
        assert not lane.autocommit
        assert _in_transaction(rt, lane.dbapi)
        ledger.append(session, _entry(2))  # now inside the ORM's transaction
        session.rollback()
    with rt.sessions() as session:
        assert session.get(PrincipalRow, "auto-1") is None
        assert [r.actor for r in session.scalars(select(LedgerEntryRow))] == ["auto-1"]  # the first stood alone
    with _autocommit(rt) as session:
        _HEAD.run(session)
        session.add(PrincipalRow(id="auto-2", name="auto 2", kind="staff", roles=["auditor"], active=True, created_at=WHEN))
        ledger.append(session, _entry(3))  # autoflush is not Core's: the ORM joins at commit
        session.commit()
    with rt.sessions() as session:
        assert session.get(PrincipalRow, "auto-2") is not None
    assert _entries(rt) == 2


def test_the_connection_goes_back_to_the_pool_transactional(rt: Runtime) -> None:
    with _autocommit(rt) as session:
        dbapi = statement_lane(session).dbapi
        ledger.append(session, _entry(1))
        session.commit()
    with rt.sessions() as session:
        lane = statement_lane(session)
        assert not lane.autocommit
        ledger.append(session, _entry(2))
        assert _in_transaction(rt, lane.dbapi)
        if rt.engine.dialect.name != "sqlite":
            assert lane.dbapi is dbapi  # the same connection, out of autocommit again
            assert dbapi.autocommit is False
        session.rollback()
    assert _entries(rt) == 1


def test_a_failed_statement_leaves_nothing_open(rt: Runtime) -> None:
    with _autocommit(rt) as session:
        ledger.append(session, _entry(1))
        with pytest.raises(Exception, match="no_such_table"):
            Prepared(text("SELECT * FROM no_such_table"), returns_rows=True).run(session)
        seq = ledger.append(session, _entry(2))  # PostgreSQL has no failed transaction to roll back
        session.commit()
    assert seq >= 1
    assert _entries(rt) == 2


def test_sqlite_leaf_hash_function_is_rfc_9162s() -> None:
    for body in ["", "{}", "说明：复核逾期", "emoji \U0001f512 and \u2028", 'q " \\']:
        assert _leaf_hash(body) == leaf_hash(body.encode())
    assert _leaf_hash(None) is None


def test_sqlite_writers_queue_across_open_files(tmp_path: Path) -> None:
    # Two instances open the lock file separately, as two API processes do: flock orders them.
    database = str(tmp_path / "lendshield.db")
    first, second = SQLiteWriters(database), SQLiteWriters(database)
    entered = threading.Event()

    def take_second() -> None:
        with second:
            entered.set()

    with first, first:  # re-entrant within a thread
        waiter = threading.Thread(target=take_second)
        waiter.start()
        assert not entered.wait(0.3)
    assert entered.wait(5)
    waiter.join()
