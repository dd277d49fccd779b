"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection, StaticPool


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
                # Checkpoints are the checkpointer thread's (``_Checkpointer``), not the committer's;
                # SQLite's own stays as a safety net, far above what a second of commits writes, for
                # an engine whose thread was stopped (used again after ``dispose()``).
                cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_CHECKPOINT_PAGES}")
                cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cur.execute("PRAGMA synchronous=NORMAL" if not memory else "PRAGMA synchronous=OFF")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            dbapi_conn.create_function("ledger_leaf_hash", 1, _leaf_hash, deterministic=True)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Straight to the driver: this runs once per transaction, and SQLAlchemy's statement
            # machinery would cost more than the statement itself. A unit of work's lane may have
            # begun it already (``UnitSession``).
            _begin(conn.dialect, conn.connection.dbapi_connection)

        if not memory:
            cache = _LANE_CACHES[engine] = _LaneCache()
            checkpointer = _CHECKPOINTERS[engine] = _Checkpointer(str(engine.url.database))
            weakref.finalize(engine, checkpointer.stop)

            def _disposed(_engine: Engine) -> None:
                cache.close_all()
                checkpointer.stop()

            event.listen(engine, "engine_disposed", _disposed)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_when_idle(engine)
    return engine


def _leaf_hash(body: str | None) -> bytes | None:
    """RFC 9162 section 2.1.1, a log entry's leaf hash: SHA-256(0x00 || entry), for SQLite's
    one-statement ledger append (``ledger.service``); tests/ledger checks it against
    ``ledger.entry.leaf_hash``."""
    return None if body is None else hashlib.sha256(b"\x00" + body.encode()).digest()


# A pooled connection unused for this long is pinged before it is handed out.
IDLE_PING_SECONDS = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection only if it sat idle, instead of before every checkout.

    ``pool_pre_ping`` costs a round trip on every request. A connection that broke while idle
    (the server restarted, a proxy dropped it) is found here and replaced: SQLAlchemy's pool
    retries the checkout when a checkout listener raises ``DisconnectionError``. One that breaks
    while in use fails its statement, is invalidated (``Lane.invalidate``, SQLAlchemy's own
    handling) and never handed out again.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"idle connection failed its ping: {type(exc).__name__}") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


def _set_autocommit(dialect: Dialect, dbapi_conn: Any, on: bool) -> None:
    """Put a driver connection, outside any transaction, in or out of autocommit. SQLite's is in
    autocommit whenever no BEGIN was sent (``make_engine`` took transaction control), so only
    PostgreSQL's driver is told."""
    if dialect.name != "sqlite":
        dbapi_conn.autocommit = on


def _begin(dialect: Dialect, dbapi_conn: Any) -> None:
    """Begin a transaction on a driver connection: ``BEGIN IMMEDIATE`` on SQLite (ours to send,
    see ``make_engine``); PostgreSQL's driver begins one by itself before the first statement."""
    if dialect.name == "sqlite" and not dbapi_conn.in_transaction:
        dbapi_conn.execute("BEGIN IMMEDIATE")


# How often the checkpointer copies committed WAL frames into the database file, and the size a
# WAL file is cut back to once it has been fully checkpointed.
CHECKPOINT_SECONDS = 1.0
WAL_SIZE_LIMIT = 64 * 1024 * 1024
SAFETY_CHECKPOINT_PAGES = 16_000


class _Checkpointer:
    """Checkpoints a SQLite database's WAL from a thread of its own, every ``CHECKPOINT_SECONDS``.

    With SQLite's automatic checkpoints the transaction whose commit crosses the WAL's size
    threshold copies the frames into the database and waits for both files' ``fsync``: about a
    tenth of a masked read's time, in the request's thread. Here a daemon thread with its own
    connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` instead (it never blocks readers or
    writers), so commits only append to the WAL (SQLite's own checkpoint stays at 16,000 pages,
    a safety net the thread keeps the WAL below). It also bounds what a power loss can take
    back: with ``synchronous=NORMAL`` the WAL is synced at checkpoints, which now come every
    second that anything was written, where a quiet system used to wait for 1,000 pages (a busy
    one checkpointed more often, but each time in a request's thread; a second's worth of
    frames also folds the hot pages' many versions into one copy each).
    Any other process with the database open (a CLI command, a second API process) runs its own;
    two checkpoints at once are fine (one finds the other busy). The thread holds no reference
    to the engine and stops when the engine is disposed or collected; a process that exits
    without stopping it leaves nothing behind, as SQLite checkpoints when the last connection
    closes.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._stopped = threading.Event()
        self.runs = 0
        self.last: tuple[int, int, int] | None = None  # (busy, WAL frames, frames checkpointed)
        self._thread = threading.Thread(target=self._loop, name="lendshield-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stopped.wait(CHECKPOINT_SECONDS):
                try:
                    if conn is None:
                        # Read-write, never create: an engine nobody used leaves no empty file.
                        uri = f"file:{urllib.parse.quote(self._path)}?mode=rw"
                        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=1)
                    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.last = (int(row[0]), int(row[1]), int(row[2]))
                    self.runs += 1
                except sqlite3.Error:
                    # The file is being replaced (a restore) or is gone: try again next time.
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()


_CHECKPOINTERS: weakref.WeakKeyDictionary[Engine, _Checkpointer] = weakref.WeakKeyDictionary()


class _LaneCache:
    """SQLite connections kept checked out of the pool between units of work, for the next lane.

    A lane's pool check-out and check-in (the pool's record, the fairy, the reset, the queue and
    their events) cost about an eighth of a masked read. A lane that committed or rolled back
    leaves its connection clean (no transaction, nothing pending), so it is kept here, up to
    ``limit``, and the next lane takes it as it is. A connection that failed, was invalidated or
    is still in a transaction goes back to the pool as before. ``engine.dispose()`` closes the
    kept ones. SQLite only: PostgreSQL's idle ping (``_ping_when_idle``) hangs on the pool's
    check-out.
    """

    __slots__ = ("_free", "limit")

    def __init__(self, limit: int = 4) -> None:
        self._free: deque[PoolProxiedConnection] = deque()  # append and pop are atomic
        self.limit = limit

    def take(self) -> PoolProxiedConnection | None:
        try:
            return self._free.pop()
        except IndexError:
            return None

    def give(self, raw: PoolProxiedConnection) -> bool:
        if len(self._free) >= self.limit or not raw.is_valid or raw.dbapi_connection is None or raw.dbapi_connection.in_transaction:
            return False
        self._free.append(raw)
        return True

    def close_all(self) -> None:
        while (raw := self.take()) is not None:
            raw.close()


_LANE_CACHES: weakref.WeakKeyDictionary[Engine, _LaneCache] = weakref.WeakKeyDictionary()


class SQLiteWriters:
    """The writers of one SQLite database queue here, across threads and processes: a request's
    whole transaction, or an autocommit unit's one writing statement (``Lane.writing``).

    Every transaction on SQLite is ``BEGIN IMMEDIATE`` (``db.make_engine``), so only one runs at
    a time anyway. A transaction that meets a held write lock inside SQLite sleeps in its busy
    handler (1, 2, 5, 10 ... 100 ms), and the lock then stands idle while it sleeps: that was
    most of the p99 under load. Queued on a thread lock, and between API processes on an
    ``flock`` of a file beside the database, the next transaction starts the moment the last one
    ends. SQLite's own locking is unchanged and still decides (the CLI, the worker and the jobs
    do not queue here and are simply served by the busy handler); this only orders the waiting.
    """

    def __init__(self, database: str | None) -> None:
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        if database and database != ":memory:" and fcntl is not None:
            try:
                self._fd = os.open(f"{database}.writers", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # a read-only directory: the thread lock alone, SQLite's busy handler between processes
                self._fd = None

    def __enter__(self) -> None:
        self._thread.acquire()
        self._depth += 1
        if self._depth == 1 and self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
            except OSError:  # a file system without flock: SQLite's busy handler orders the processes
                os.close(self._fd)
                self._fd = None

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()

    def __del__(self) -> None:
        if self._fd is not None:
            os.close(self._fd)


_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, SQLiteWriters] = weakref.WeakKeyDictionary()
_SQLITE_WRITERS_GUARD = threading.Lock()


def writers_queue(engine: Engine) -> SQLiteWriters | None:
    """The queue of a SQLite database's writers (``SQLiteWriters``); None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    writers = _SQLITE_WRITERS.get(engine)
    if writers is None:
        with _SQLITE_WRITERS_GUARD:
            writers = _SQLITE_WRITERS.get(engine)
            if writers is None:
                writers = _SQLITE_WRITERS[engine] = SQLiteWriters(engine.url.database)
    return writers


class Lane:
    """A driver connection for precompiled statements: in a unit of work's transaction, or, in
    an autocommit unit (``UnitSession.statement_autocommit``), running each statement as its
    own transaction."""

    __slots__ = ("_invalidate", "autocommit", "dbapi", "dialect", "queue")

    def __init__(
        self,
        dialect: Dialect,
        dbapi: Any,
        invalidate: Callable[[BaseException], None],
        *,
        autocommit: bool = False,
        queue: SQLiteWriters | None = None,
    ) -> None:
        self.dialect = dialect
        self.dbapi = dbapi
        self._invalidate = invalidate
        self.autocommit = autocommit
        self.queue = queue  # an autocommit lane's writes on SQLite queue here (``SQLiteWriters``)

    def invalidate(self, exc: BaseException) -> None:
        """The connection was found dead: never hand it out again."""
        self._invalidate(exc)

    def writing(self) -> AbstractContextManager[object]:
        """Around one writing statement: in an autocommit lane on SQLite it queues with the
        database's other writers; elsewhere the transaction already holds what it needs."""
        return self.queue if self.autocommit and self.queue is not None else nullcontext()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Statements that must commit together: in an autocommit lane, a transaction of their
        own (``BEGIN IMMEDIATE`` on SQLite, queued with the writers); else the lane's own."""
        if not self.autocommit:
            yield
            return
        if self.dialect.name != "sqlite":
            with self.dbapi.transaction():  # psycopg: BEGIN ... COMMIT, or ROLLBACK on error
                yield
            return
        with self.writing():
            self.dbapi.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.dbapi.rollback()
                raise
            self.dbapi.commit()

    @classmethod
    def of(cls, conn: Connection) -> Lane:
        return cls(conn.dialect, conn.connection.dbapi_connection, conn.invalidate)


class UnitSession(Session):
    """A Session whose precompiled statements (``ledger.prepared``) can run without the ORM.

    A request's read path issues only a few Core statements; SQLAlchemy's transaction machinery
    around them (autobegin, connection bookkeeping, commit, close) costs more than the statements
    and the commit together. So the first statement of a unit of work that has not touched the
    ORM opens a *lane*: one pooled driver connection with its transaction begun (``BEGIN
    IMMEDIATE`` on SQLite), which every later statement of the unit of work reuses; ``commit``,
    ``rollback`` and ``close`` end that transaction straight on the driver.

    The ORM and the lane never hold two connections: while a lane is open, ``get_bind`` names a
    Connection over the lane's driver connection, so anything the ORM does (a query, a flush)
    runs in the lane's transaction, and from then on the ORM commits or rolls it back as its own.
    When the ORM began first, statements run on the ORM's connection. Session events (such as
    ``before_commit``) fire only when the ORM took part; nothing in LendShield listens to them.
    """

    statement_autocommit = False
    """Set before the first statement for a unit of work that only reads and then writes its
    ledger entry (the masked read): its lane begins no transaction, each statement is its own
    (one atomic statement appends the entry), so it saves BEGIN and COMMIT (two round trips on
    PostgreSQL) and holds no lock across statements (on SQLite, no write lock while it reads;
    its one write queues with the others, ``Lane.writing``). Each read sees the latest committed
    state, as every statement of a READ COMMITTED transaction does. Should the ORM join, the lane
    turns into an ordinary transaction from there on (``get_bind``)."""

    _lane: Lane | None = None
    _raw: PoolProxiedConnection | None = None  # the lane's pooled connection
    _joined: Connection | None = None  # the same connection as the ORM sees it (``get_bind``)
    _orm_owns = False  # the ORM began its transaction on ``_joined``: it commits or rolls back

    def lane(self) -> Lane:
        """The driver connection, in this unit of work's transaction, that statements run on."""
        lane = self._lane
        if lane is not None:
            return lane
        engine = self.bind
        if self.in_transaction() or not isinstance(engine, Engine):
            return Lane.of(self.connection())  # the ORM began first: one connection, the ORM's
        cache = _LANE_CACHES.get(engine)
        raw = cache.take() if cache is not None else None
        if raw is None:
            raw = engine.raw_connection()
        autocommit = self.statement_autocommit
        try:
            if autocommit:
                _set_autocommit(engine.dialect, raw.dbapi_connection, True)
            else:
                _begin(engine.dialect, raw.dbapi_connection)
        except BaseException:
            raw.close()
            raise
        self._raw = raw
        queue = writers_queue(engine) if autocommit else None
        self._lane = lane = Lane(engine.dialect, raw.dbapi_connection, raw.invalidate, autocommit=autocommit, queue=queue)
        return lane

    def get_bind(self, mapper: Any = None, **kw: Any) -> Engine | Connection:
        raw = self._raw
        if raw is None or kw.get("bind") is not None:
            return super().get_bind(mapper, **kw)
        if self._joined is None:
            engine = self.bind
            assert isinstance(engine, Engine)
            lane = self._lane
            if lane is not None and lane.autocommit:
                # The ORM works in a transaction: from here on the lane is in one, which the
                # Connection's begin opens (BEGIN IMMEDIATE on SQLite, the driver's on PostgreSQL).
                _set_autocommit(engine.dialect, raw.dbapi_connection, False)
                lane.autocommit = False
            self._joined = Connection(engine, connection=raw)  # its begin finds the transaction open
        return self._joined

    def commit(self) -> None:
        lane = self._lane
        if lane is None:
            super().commit()
            return
        if self._joined is not None or self.in_transaction() or len(self.identity_map) or self.new or self.deleted:
            super().commit()  # flushes into the lane; if it began there, the ORM commits the transaction
        if not self._orm_owns:
            lane.dbapi.commit()
        self._end_lane(clean=True)  # only once committed: a failed commit is left to rollback() or close()

    def rollback(self) -> None:
        lane = self._lane
        if lane is None:
            super().rollback()
            return
        try:
            super().rollback()
            if not self._orm_owns:
                lane.dbapi.rollback()
            clean = True
        except BaseException:
            clean = False
            raise
        finally:
            self._end_lane(clean=clean)

    def close(self) -> None:
        try:
            if self._joined is not None or self.in_transaction() or len(self.identity_map):
                super().close()  # else the ORM holds nothing: no transaction, no objects
        finally:
            self._end_lane()  # back to the pool, which rolls back whatever is left

    def _end_lane(self, *, clean: bool = False) -> None:
        """Give the lane's connection back: kept for the next lane when it ended clean on a bare
        lane (``_LaneCache``), else to the pool (which rolls back whatever is left)."""
        raw, joined, lane = self._raw, self._joined, self._lane
        self._lane = self._raw = self._joined = None
        self._orm_owns = False
        if lane is not None and lane.autocommit and raw is not None:
            try:
                _set_autocommit(lane.dialect, raw.dbapi_connection, False)  # the pool's connections are transactional
            except Exception as exc:  # a connection that cannot take it back is not handed out again
                raw.invalidate(exc)
                clean = False
        if joined is not None:
            joined.close()  # returns ``raw`` to the pool
        elif raw is not None:
            cache = _LANE_CACHES.get(self.bind) if clean and isinstance(self.bind, Engine) else None
            if cache is None or not cache.give(raw):
                raw.close()


@event.listens_for(UnitSession, "after_begin")
def _orm_began(session: UnitSession, _transaction: Any, connection: Connection) -> None:
    # Only the ORM's own begin counts: a caller that merely asked for the bind (``get_bind``)
    # leaves the lane's transaction to the lane.
    if connection is session._joined:
        session._orm_owns = True


def make_sessionmaker(engine: Engine) -> sessionmaker[UnitSession]:
    return sessionmaker(bind=engine, class_=UnitSession, expire_on_commit=False, autoflush=True, join_transaction_mode="control_fully")


def statement_lane(session: Session | Connection) -> Lane:
    """The driver connection of ``session``'s transaction (begun) for a precompiled statement: the
    lane of a ``UnitSession``, else that of ``session.connection()`` or of the Connection given."""
    if isinstance(session, UnitSession):
        return session.lane()
    return Lane.of(session.connection() if isinstance(session, Session) else session)


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "sqlite"
