"""Units of work whose precompiled statements run on one connection without the ORM (the lane):
they commit, roll back and mix with ORM work exactly as a plain Session does, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from lendshield import ledger
from lendshield.db.engine import UnitSession, statement_lane
from lendshield.ledger.models import LedgerEntryRow, LedgerHead
from lendshield.ledger.prepared import Prepared
from lendshield.principals.models import PrincipalRow
from lendshield.runtime import Runtime

WHEN = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
_HEAD = Prepared(select(LedgerHead.next_seq).where(LedgerHead.id == 1))


def _entry(n: int) -> ledger.Entry:
    return ledger.Entry(time=WHEN, actor=f"test-{n}", action="test.lane", details={"n": n})


def _entries(rt: Runtime) -> int:
    with rt.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntryRow)) or 0)


def _principal(n: int) -> PrincipalRow:
    return PrincipalRow(id=f"lane-{n}", name=f"lane {n}", kind="staff", roles=["auditor"], active=True, created_at=WHEN)


def test_the_runtime_hands_out_unit_sessions(rt: Runtime) -> None:
    with rt.sessions() as session:
        assert isinstance(session, UnitSession)


def test_statements_alone_commit_and_roll_back(rt: Runtime) -> None:
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        assert not session.in_transaction()  # the ORM never began: the lane carried it
        session.commit()
    with rt.sessions() as session:
        ledger.append(session, _entry(2))
        session.rollback()
    with rt.sessions() as session:
        ledger.append(session, _entry(3))  # closed without commit: rolled back
    assert _entries(rt) == 1


def test_one_connection_per_unit_of_work(rt: Runtime) -> None:
    with rt.sessions() as session:
        first = statement_lane(session)
        ledger.append(session, _entry(1))
        assert statement_lane(session) is first
        assert session.connection().connection.dbapi_connection is first.dbapi  # the ORM joins the lane
        session.commit()
        again = statement_lane(session)  # a new transaction after the commit
        assert again is not first
        session.rollback()


def test_orm_work_after_the_lane_commits_with_it(rt: Runtime) -> None:
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        session.add(_principal(1))
        session.flush()  # same connection: on SQLite a second one would wait for the write lock
        session.execute(update(PrincipalRow).where(PrincipalRow.id == "lane-1").values(name="renamed"))
        session.commit()
    with rt.sessions() as session:
        assert session.get(PrincipalRow, "lane-1") is not None
    assert _entries(rt) == 1


def test_orm_work_after_the_lane_rolls_back_with_it(rt: Runtime) -> None:
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        session.add(_principal(2))
        session.flush()
        session.rollback()
    with rt.sessions() as session:
        assert session.get(PrincipalRow, "lane-2") is None
    assert _entries(rt) == 0


def test_pending_orm_objects_are_flushed_by_a_lane_commit(rt: Runtime) -> None:
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        session.add(_principal(3))  # never flushed before the commit
        session.commit()
    with rt.sessions() as session:
        assert session.get(PrincipalRow, "lane-3") is not None


def test_statements_after_the_orm_use_its_connection(rt: Runtime) -> None:
    with rt.sessions() as session:
        session.add(_principal(4))
        session.flush()
        assert statement_lane(session).dbapi is session.connection().connection.dbapi_connection
        ledger.append(session, _entry(1))
        session.commit()
    assert _entries(rt) == 1


def test_a_failed_statement_leaves_the_unit_of_work_to_roll_back(rt: Runtime) -> None:
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        with pytest.raises(DBAPIError, match=r"no such column|does not exist"):
            Prepared(select(LedgerHead.next_seq).where(LedgerHead.id == 1).where(text("no_such_column = 1"))).run(session)
        session.rollback()
    assert _entries(rt) == 0
    with rt.sessions() as session:
        assert _HEAD.run(session)[0][0] == 0  # the head moved back with the rollback


def test_a_commit_that_fails_is_rolled_back_and_the_session_reused(rt: Runtime) -> None:
    with rt.sessions() as session:
        session.add(_principal(5))
        session.commit()
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        session.add(_principal(5))  # the same id again: the flush in commit fails
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        ledger.append(session, _entry(2))
        session.commit()
    assert _entries(rt) == 1


def test_asking_for_the_bind_leaves_the_commit_to_the_lane(rt: Runtime) -> None:
    with rt.sessions() as session:
        ledger.append(session, _entry(1))
        assert session.get_bind().dialect.name in ("sqlite", "postgresql")  # e.g. db.engine.is_sqlite
        session.commit()
    assert _entries(rt) == 1
