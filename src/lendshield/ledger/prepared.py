"""Core statements compiled once per dialect and run on the session's own DBAPI connection.

For the few statements on every request (the ledger append, the vault's read): SQLAlchemy's
per-execution work (cache key, compiled-cache lookup, result metadata, events) costs about three
times what SQLite spends running them. The statement is still written with Core, compiled by
SQLAlchemy for the session's dialect, its parameters pass through the column types' own bind
processors, and it runs inside the session's transaction (the connection is begun first), so
the rows written and read are the same as ``session.execute`` would write and read. On
PostgreSQL they run without a cursor, as the connection's own prepared statements
(``db.pg_direct``); on SQLite on a cursor. Results come
back as the driver gives them: use it only for columns whose driver value is already the Python
value (str, int, bytes), never for dates or JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

from lendshield.db import pg_direct
from lendshield.db.engine import Lane, statement_lane

_SQLITE_DATETIME = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
_SQLITE_DATE = "%(year)04d-%(month)02d-%(day)02d"


def _sqlite_iso(impl: Any, proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DATETIME and DATE in their default storage formats write what ``isoformat``
    writes for years 1000 to 9999, at a fraction of the cost (every ledger entry has a time);
    anything else is left to the type's own processor. tests/ledger checks the two agree."""
    storage = getattr(impl, "_storage_format", None)
    if storage == _SQLITE_DATETIME:

        def datetime_text(value: Any) -> Any:
            if type(value) is datetime and value.year >= 1000:
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            return proc(value)

        return datetime_text
    if storage == _SQLITE_DATE:

        def date_text(value: Any) -> Any:
            if type(value) is date and value.year >= 1000:
                return value.isoformat()
            return proc(value)

        return date_text
    return proc


class Raw(str):
    """A parameter value already in the form its column's bind processor would give the driver
    (a JSON text worked out once for many entries, say): the processor is skipped for it."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order for qmark/format styles
    defaults: dict[str, Any]  # values Core put in the statement itself (``next_seq + 1``)
    processors: dict[str, Callable[[Any], Any]]
    # Whether the statement gives rows back; None for text (asked of the cursor). Asking the
    # cursor costs psycopg a column object per column, for every statement.
    rows: bool | None


class Prepared:
    """One Core statement; ``run`` executes it in the session's transaction."""

    def __init__(self, stmt: Executable, *, returns_rows: bool | None = None) -> None:
        """``returns_rows`` tells it for a text statement (a Core one says so itself)."""
        self._stmt = stmt
        self._returns_rows = returns_rows
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        element = self._stmt
        assert isinstance(element, ClauseElement)
        compiled = cast(SQLCompiler, element.compile(dialect=dialect))
        processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            impl = bind.type.dialect_impl(dialect)
            proc = impl.bind_processor(dialect)
            if proc is not None:
                processors[name] = _sqlite_iso(impl, proc) if dialect.name == "sqlite" else proc
        positional = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        rows = self._returns_rows
        if rows is None and not compiled.isplaintext:
            rows = bool(compiled.effective_returning) if compiled.isinsert or compiled.isupdate or compiled.isdelete else True
        return _Compiled(str(compiled), positional, dict(compiled.params), processors, rows)

    def sql_for(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
        """The statement's SQL for ``dialect`` and, for positional parameter styles, the bind
        names in order (for a benchmark's bare-driver peer to run the very same SQL)."""
        compiled = self._by_dialect.get(dialect.name) or self._compile(dialect)
        return compiled.sql, compiled.positional

    def run(self, session: Session | Connection | Lane, params: Mapping[str, Any] | None = None) -> Sequence[Any]:
        """Execute with ``params`` (by bind name) and return every row the driver gives back.

        Given a session, runs on its unit of work's connection (``db.engine.statement_lane``:
        beginning its transaction, BEGIN IMMEDIATE on SQLite); given a connection or a lane
        already looked up, runs on it.
        """
        lane = session if isinstance(session, Lane) else statement_lane(session)
        dialect = lane.dialect
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = self._compile(dialect)
        values = {**compiled.defaults, **params} if params else dict(compiled.defaults)
        for name, proc in compiled.processors.items():
            value = values[name]
            if type(value) is not Raw:
                values[name] = proc(value)
        args: Any = values if compiled.positional is None else [values[n] for n in compiled.positional]
        dbapi_conn = lane.dbapi
        cursor = None
        try:
            if dialect.name == "postgresql" and pg_direct.usable(dbapi_conn):
                rows = compiled.rows
                return pg_direct.run(dbapi_conn, compiled.sql, args, True if rows is None else rows)
            cursor = dbapi_conn.cursor()
            cursor.execute(compiled.sql, args)
            rows = compiled.rows
            if rows is None:
                rows = cursor.description is not None
            return cursor.fetchall() if rows else ()
        except dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy itself would: its own exception types (IntegrityError, ...) for
            # callers, and a connection found dead is invalidated so the pool never hands it out.
            disconnect = dialect.is_disconnect(exc, dbapi_conn, cursor)
            if disconnect:
                lane.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql, args, exc, dialect.loaded_dbapi.Error, connection_invalidated=disconnect, dialect=dialect
            ) from exc
        finally:
            if cursor is not None:
                cursor.close()
