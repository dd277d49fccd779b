"""db.pg_direct: precompiled statements on a psycopg connection without a cursor.

The rows must be those a cursor gives, errors psycopg's own, and a statement the server has
forgotten (psycopg's DEALLOCATE ALL, a DISCARD ALL) prepared again rather than failing a request.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError

from lendshield.db import make_engine, pg_direct
from lendshield.db.engine import Lane
from lendshield.ledger.prepared import Prepared

pytestmark = pytest.mark.postgresql

_TYPES = """
    CREATE TABLE direct_types (
        id INTEGER PRIMARY KEY, label TEXT, blob BYTEA, flag BOOLEAN, at TIMESTAMPTZ, doc JSONB,
        tags TEXT[], amount NUMERIC(12, 2), big BIGINT
    )
"""
_ROWS: list[tuple[Any, ...]] = [
    (1, "张三", b"\x00\xff\x10", True, datetime(2026, 12, 2, 8, 0, tzinfo=UTC), {"a": [1, "二"]}, ["x", "y"], Decimal("12.50"), 2**40),
    (2, None, None, None, None, None, None, None, None),
    (3, "", b"", False, datetime(1999, 1, 1, tzinfo=UTC), [], [], Decimal("0.00"), -1),
]
_SELECT = "SELECT id, label, blob, flag, at, doc, tags, amount, big FROM direct_types WHERE id >= %(low)s ORDER BY id"


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def conn(pg_database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(_plain(pg_database), autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS direct_types")
        connection.execute(_TYPES)
        with connection.cursor() as cur:
            cur.executemany(
                "INSERT INTO direct_types VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [(*r[:5], Jsonb(r[5]) if r[5] is not None else None, *r[6:]) for r in _ROWS],
            )
        yield connection
        connection.execute("DROP TABLE IF EXISTS direct_types")


def _prepared_names(conn: psycopg.Connection[Any]) -> list[str]:
    with conn.cursor() as cur:  # a cursor of its own: not the path under test
        cur.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE '\\_lendshield\\_%%' ORDER BY name")
        return [r[0] for r in cur.fetchall()]


def test_rows_are_those_of_a_cursor_for_every_type(conn: psycopg.Connection[Any]) -> None:
    with conn.cursor() as cur:
        expected = cur.execute(_SELECT, {"low": 0}).fetchall()
    for _ in range(3):  # the first run prepares; the next ones reuse the statement and its loaders
        assert pg_direct.run(conn, _SELECT, {"low": 0}, True) == expected
    assert pg_direct.run(conn, _SELECT, {"low": 2}, True) == expected[1:]
    assert pg_direct.run(conn, _SELECT, {"low": 99}, True) == []
    assert [type(v) for v in expected[0]] == [int, str, bytes, bool, datetime, dict, list, Decimal, int]


def test_one_named_statement_per_sql_and_parameter_types(conn: psycopg.Connection[Any]) -> None:
    for low in range(5):
        pg_direct.run(conn, _SELECT, {"low": low}, True)
    assert len(_prepared_names(conn)) == 1
    # A None parameter has no type: another plan, under another name; the first is kept.
    assert pg_direct.run(conn, "SELECT %(v)s::int IS NULL", {"v": 5}, True) == [(False,)]
    assert pg_direct.run(conn, "SELECT %(v)s::int IS NULL", {"v": None}, True) == [(True,)]
    assert pg_direct.run(conn, "SELECT %(v)s::int IS NULL", {"v": 6}, True) == [(False,)]
    assert len(_prepared_names(conn)) == 3


def test_a_statement_without_rows_returns_none_of_them(conn: psycopg.Connection[Any]) -> None:
    sql = "UPDATE direct_types SET label = %(label)s WHERE id = %(id)s"
    assert pg_direct.run(conn, sql, {"label": "李四", "id": 3}, False) == []
    assert pg_direct.run(conn, sql, {"label": "王五", "id": 3}, True) == []  # asked for rows, got none
    assert conn.execute("SELECT label FROM direct_types WHERE id = 3").fetchone() == ("王五",)


def test_a_database_error_is_psycopgs_own_and_the_connection_stays_usable(conn: psycopg.Connection[Any]) -> None:
    sql = "INSERT INTO direct_types (id, label) VALUES (%(id)s, %(label)s)"
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg_direct.run(conn, sql, {"id": 1, "label": "again"}, False)
    pg_direct.run(conn, sql, {"id": 4, "label": "new"}, False)
    assert conn.execute("SELECT count(*) FROM direct_types").fetchone() == (4,)


def test_psycopgs_deallocate_all_after_a_rollback_is_followed(conn: psycopg.Connection[Any]) -> None:
    pg_direct.run(conn, _SELECT, {"low": 0}, True)
    # psycopg prepares a statement run often enough, and on a rollback sends DEALLOCATE ALL.
    conn.execute("SELECT count(*) FROM direct_types", prepare=True)
    conn.autocommit = False
    conn.execute("SELECT 1")
    conn.rollback()
    assert _prepared_names(conn) == []  # the server forgot ours too
    conn.execute("SELECT 1")  # inside a transaction, where a missing statement would abort it
    assert pg_direct.usable(conn)
    assert [r[0] for r in pg_direct.run(conn, _SELECT, {"low": 0}, True)] == [1, 2, 3]
    conn.commit()
    assert len(_prepared_names(conn)) == 1


def test_a_statement_deallocated_behind_psycopgs_back_is_prepared_again(conn: psycopg.Connection[Any]) -> None:
    pg_direct.run(conn, _SELECT, {"low": 0}, True)
    conn.pgconn.exec_(b"DEALLOCATE ALL")  # as a pooler or an operator might: psycopg never sees it
    assert [r[0] for r in pg_direct.run(conn, _SELECT, {"low": 0}, True)] == [1, 2, 3]


def test_inside_a_transaction_a_deallocated_statement_fails_rather_than_being_retried(conn: psycopg.Connection[Any]) -> None:
    # The failure aborted the transaction: running the statement again there could not succeed.
    pg_direct.run(conn, _SELECT, {"low": 0}, True)
    conn.autocommit = False
    conn.execute("SELECT 1")
    conn.pgconn.exec_(b"DEALLOCATE ALL")
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        pg_direct.run(conn, _SELECT, {"low": 0}, True)
    conn.rollback()
    conn.execute("SELECT 1")
    assert [r[0] for r in pg_direct.run(conn, _SELECT, {"low": 0}, True)] == [1, 2, 3]
    conn.rollback()


def test_without_prepared_statements_it_sends_unnamed_ones(conn: psycopg.Connection[Any]) -> None:
    conn.prepare_threshold = None  # psycopg's switch for poolers in transaction mode
    for _ in range(3):
        assert [r[0] for r in pg_direct.run(conn, _SELECT, {"low": 0}, True)] == [1, 2, 3]
    assert _prepared_names(conn) == []


def test_a_transaction_not_begun_is_left_to_the_cursor(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = False
    assert not pg_direct.usable(conn)  # the cursor's BEGIN, with the connection's isolation level
    conn.execute("SELECT 1")
    assert pg_direct.usable(conn)
    conn.rollback()
    conn.autocommit = True
    assert pg_direct.usable(conn)
    with conn.pipeline():
        assert not pg_direct.usable(conn)


# --- through ledger.prepared.Prepared, on the engine's pool ---------------------------------

_T = Table("direct_notes", MetaData(), Column("id", Integer, primary_key=True), Column("note", String(40)))
_INSERT = Prepared(insert(_T).returning(_T.c.id))
_READ = Prepared(select(_T.c.id, _T.c.note).where(_T.c.id == bindparam("id")))


@pytest.fixture
def engine(pg_database: str) -> Iterator[Any]:
    engine = make_engine(pg_database, pool_size=1)
    with engine.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS direct_notes"))
        _T.create(c)
    yield engine
    with engine.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS direct_notes"))
    engine.dispose()


def test_prepared_runs_direct_in_a_begun_transaction_with_sqlalchemys_errors(engine: Any) -> None:
    with engine.begin() as c:
        lane = Lane.of(c)
        first = _INSERT.run(lane, {"id": 1, "note": "一"})  # the cursor begins the transaction
        assert pg_direct.usable(lane.dbapi)
        assert _INSERT.run(lane, {"id": 2, "note": "二"}) == [(2,)]  # then the statements go direct
        assert first == [(1,)]
        assert _READ.run(lane, {"id": 2}) == [(2, "二")]
        assert _prepared_names(lane.dbapi)
        with pytest.raises(IntegrityError):  # SQLAlchemy's own type, as from session.execute
            _INSERT.run(lane, {"id": 2, "note": "dup"})
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM direct_notes")).scalar_one() == 0  # the failure rolled both back


def test_a_connection_found_dead_is_invalidated(engine: Any) -> None:
    with engine.connect() as c:
        c.execute(text("SELECT 1"))
        pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
        lane = Lane.of(c)
        with psycopg.connect(_plain(str(engine.url.render_as_string(hide_password=False))), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(DBAPIError) as caught:
            _READ.run(lane, {"id": 1})
        assert caught.value.connection_invalidated
    with engine.connect() as c:  # the pool handed out a new connection
        assert c.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
