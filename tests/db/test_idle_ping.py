"""PostgreSQL pool: a connection is pinged before checkout only after sitting idle.

A ping on every checkout is a round trip on every request; one that broke while idle (a server
restart, a proxy's idle timeout) must still never reach a request.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lendshield.db import engine as engine_module
from lendshield.db import make_engine

pytestmark = pytest.mark.postgresql


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        conn.rollback()
    return pid


def _terminate(url: str, pid: int) -> None:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_in_use_is_not_pinged(pg_database: str) -> None:
    engine = make_engine(pg_database, pool_size=1)
    try:
        _backend_pid(engine)
        pings: list[object] = []
        real = engine.dialect.do_ping
        engine.dialect.do_ping = lambda conn: pings.append(conn) or real(conn)  # type: ignore[method-assign]
        for _ in range(20):
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                conn.rollback()
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_that_broke_is_replaced_before_use(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)
    engine = make_engine(pg_database, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(pg_database, first)  # the server drops the pooled, idle connection
        second = _backend_pid(engine)  # the ping finds it dead; the pool hands out a new one
        assert second != first
    finally:
        engine.dispose()


def test_without_the_idle_ping_the_broken_connection_would_reach_the_request(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The control for the test above: with the threshold far away the dead connection is used.
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 3600.0)
    engine = make_engine(pg_database, pool_size=1)
    try:
        _terminate(pg_database, _backend_pid(engine))
        with pytest.raises(Exception, match=r"terminat|closed|server"):
            _backend_pid(engine)
        assert _backend_pid(engine)  # invalidated by the failure: the next checkout is a new one
    finally:
        engine.dispose()
