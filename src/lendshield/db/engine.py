"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine tuned for the backend.

    On SQLite every transaction starts with ``BEGIN IMMEDIATE``: LendShield writes a ledger entry
    on nearly every request, and a deferred transaction that later upgrades to a write lock is
    what makes concurrent SQLite writers fail with "database is locked".
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN IMMEDIATE is ours to send.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL" if not memory else "PRAGMA synchronous=OFF")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Straight to the driver: this runs once per transaction, and SQLAlchemy's statement
            # machinery would cost more than the statement itself.
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class UnitSession(Session):
    """A Session whose precompiled statements (``ledger.prepared``) can run without the ORM.

    A request's read path issues only a few Core statements; SQLAlchemy's session transaction
    around them (autobegin, connection bookkeeping, commit, close) costs more than the statements
    and the commit together. So the first statement of a unit of work that has not touched the
    ORM opens a *lane*: one pooled connection with its transaction begun (``BEGIN IMMEDIATE`` on
    SQLite), which every later statement of the unit of work reuses. ``commit``, ``rollback`` and
    ``close`` end the lane's transaction straight on that connection.

    The ORM and the lane never hold two connections: while a lane is open, ``get_bind`` names it,
    so anything the ORM does (a query, a flush) joins the lane's transaction and, with
    ``join_transaction_mode="control_fully"``, commits or rolls it back exactly as its own. When
    the ORM began first, statements run on the ORM's connection instead. Session events
    (``before_commit`` and the like) fire only when the ORM took part; nothing listens to them.
    """

    _lane: Connection | None = None

    def statement_connection(self) -> Connection:
        """The connection, in this unit of work's transaction, that statements run on."""
        lane = self._lane
        if lane is not None:
            return lane
        engine = self.bind
        if self.in_transaction() or not isinstance(engine, Engine):
            return self.connection()  # the ORM began first: one connection, the ORM's
        lane = engine.connect()
        try:
            lane.begin()
        except BaseException:
            lane.close()
            raise
        self._lane = lane
        return lane

    def get_bind(self, mapper: Any = None, **kw: Any) -> Engine | Connection:
        lane = self._lane
        if lane is not None and kw.get("bind") is None:
            return lane
        return super().get_bind(mapper, **kw)

    def commit(self) -> None:
        lane = self._lane
        if lane is None:
            super().commit()
            return
        try:
            if self.in_transaction() or self.new or self.dirty or self.deleted:
                super().commit()  # flushes into the lane; control_fully commits its transaction
            if lane.in_transaction():
                lane.commit()
        finally:
            self._end_lane()

    def rollback(self) -> None:
        if self._lane is None:
            super().rollback()
            return
        try:
            super().rollback()
        finally:
            self._end_lane()  # closing the connection rolls back whatever is left

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_lane()

    def _end_lane(self) -> None:
        lane, self._lane = self._lane, None
        if lane is not None:
            lane.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[UnitSession]:
    return sessionmaker(bind=engine, class_=UnitSession, expire_on_commit=False, autoflush=True, join_transaction_mode="control_fully")


def statement_connection(session: Session | Connection) -> Connection:
    """The connection of ``session``'s transaction (begun) for a Core statement: the lane of a
    ``UnitSession``, else ``session.connection()``; a Connection is returned as it is."""
    if isinstance(session, UnitSession):
        return session.statement_connection()
    if isinstance(session, Session):
        return session.connection()
    return session


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"
