"""Precompiled statements run on a psycopg connection without a cursor.

psycopg's ``Cursor.execute`` spends more Python time than PostgreSQL spends answering the
hot read path's three statements: a new cursor and transformer, the query converted again, the
prepared-statement cache consulted and maintained, the result's state rebuilt. Here each
statement of ``ledger.prepared.Prepared`` keeps, per connection, one converted query and one
transformer (psycopg's own, in C), and runs as a named prepared statement through libpq's
extended protocol: parameters dumped and rows loaded by the very adapters a cursor would use, so
the rows are those ``cursor.fetchall()`` gives (tests/db/test_pg_direct.py).

The server forgets prepared statements when psycopg sends ``DEALLOCATE ALL`` (it does after a
rollback, a DROP or an ALTER, to clear its own cache), so this module forgets its names then
and prepares them again on next use; a statement found deallocated otherwise (``DISCARD ALL``)
is prepared again where no transaction is open. A connection whose
``prepare_threshold`` is None (psycopg's switch for poolers such as PgBouncer in transaction
mode, where a prepared statement may not outlive a transaction) gets unnamed statements.

What it leaves to the cursor: a transaction not begun yet (the cursor's BEGIN, with the
connection's isolation level), pipeline mode, and any psycopg without the parts used here
(``available`` is then False and every statement takes the cursor).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

try:  # psycopg's adapters and libpq wrapper; the converted query and its cache are its own, not public API
    from psycopg import Connection as _Connection
    from psycopg import errors as _errors
    from psycopg import pq as _pq
    from psycopg._preparing import PrepareManager as _PrepareManager
    from psycopg._queries import PostgresQuery as _PostgresQuery
    from psycopg.adapt import Transformer as _Transformer
    from psycopg.generators import execute as _execute

    _FATAL = _pq.ExecStatus.FATAL_ERROR
    _TUPLES = _pq.ExecStatus.TUPLES_OK
    _DONE = (_pq.ExecStatus.TUPLES_OK, _pq.ExecStatus.COMMAND_OK)
    _IDLE = _pq.TransactionStatus.IDLE
    available = hasattr(_Connection, "wait") and hasattr(_PrepareManager, "clear")
except ImportError:  # pragma: no cover - a psycopg without these parts: the cursor serves
    available = False


class _Statement:
    """One SQL text on one connection: its converted query, its transformer, and its prepared
    names by parameter types (a None parameter has no type, so another plan)."""

    __slots__ = ("loaded", "names", "query", "transformer")

    def __init__(self, conn: Any, sql: str, params: Any) -> None:
        self.transformer = _Transformer(conn)
        self.query = _PostgresQuery(self.transformer)
        self.query.convert(sql, params)
        self.names: dict[tuple[int, ...], bytes] = {}
        self.loaded = False  # the transformer holds the row loaders of this statement's columns


class _ConnectionState:
    """A connection's statements; ``count`` numbers their server-side names, never reused."""

    __slots__ = ("count", "statements")

    def __init__(self) -> None:
        self.count = 0
        self.statements: dict[str, _Statement] = {}

    def forget_names(self) -> None:
        for statement in self.statements.values():
            statement.names.clear()


_STATES: weakref.WeakKeyDictionary[Any, _ConnectionState] = weakref.WeakKeyDictionary()


def usable(conn: Any) -> bool:
    """Whether ``run`` may take a statement on ``conn``: a transaction is open or none is
    wanted (autocommit), and no pipeline."""
    return (
        available
        and getattr(conn, "_pipeline", False) is None
        and hasattr(conn, "_prepared")
        and (conn.autocommit or conn.pgconn.transaction_status != _IDLE)
    )


def _state(conn: Any) -> _ConnectionState:
    state = _STATES.get(conn)
    if state is None:
        state = _STATES[conn] = _ConnectionState()
        manager = conn._prepared
        clear: Callable[[], bool] = manager.clear

        def clear_and_forget() -> bool:
            # True when psycopg is about to send DEALLOCATE ALL: ours go with it.
            deallocating = clear()
            if deallocating:
                state.forget_names()
            return deallocating

        manager.clear = clear_and_forget
    return state


def run(conn: Any, sql: str, params: Sequence[Any] | dict[str, Any], rows: bool) -> list[tuple[Any, ...]]:
    """Execute ``sql`` (psycopg's placeholders) with ``params``; the rows if ``rows``, else [].

    Only where ``usable(conn)``. A database error is psycopg's own exception, as from a cursor.
    """
    with conn.lock:  # as a cursor does: one operation on the connection at a time
        state = _state(conn)
        statement = state.statements.get(sql)
        if statement is None:
            statement = state.statements[sql] = _Statement(conn, sql, params)
        else:
            statement.query.dump(params)
        try:
            result = _execute_statement(conn, state, statement)
        except _errors.InvalidSqlStatementName:
            # Deallocated behind psycopg's back (a DISCARD ALL, a pooler): prepare again,
            # where no transaction was aborted by the failure.
            if conn.pgconn.transaction_status != _IDLE:
                raise
            state.forget_names()
            result = _execute_statement(conn, state, statement)
        if not rows or result.status != _TUPLES:
            return []
        transformer = statement.transformer
        transformer.set_pgresult(result, set_loaders=not statement.loaded)
        statement.loaded = True
        try:
            rows_loaded: list[tuple[Any, ...]] = transformer.load_rows(0, result.ntuples, tuple)
            return rows_loaded
        finally:
            transformer.set_pgresult(None, set_loaders=False)  # the result's memory goes now


def _execute_statement(conn: Any, state: _ConnectionState, statement: _Statement) -> Any:
    query = statement.query
    pgconn = conn.pgconn
    if conn.prepare_threshold is None:
        pgconn.send_query_params(query.query, query.params, param_types=query.types, param_formats=query.formats)
        return _results(conn, pgconn)
    types = query.types
    name = statement.names.get(types)
    if name is None:
        state.count += 1
        name = f"_lendshield_{state.count}".encode()
        pgconn.send_prepare(name, query.query, param_types=types)
        _results(conn, pgconn)
        statement.names[types] = name
        statement.loaded = False
    pgconn.send_query_prepared(name, query.params, param_formats=query.formats)
    return _results(conn, pgconn)


def _results(conn: Any, pgconn: Any) -> Any:
    results = conn.wait(_execute(pgconn))
    for result in results:
        if result.status == _FATAL:
            raise _errors.error_from_result(result, encoding=conn.info.encoding)
        if result.status not in _DONE:
            raise _errors.ProgrammingError(f"unexpected result from a prepared statement: {result.status.name}")
    return results[-1]
