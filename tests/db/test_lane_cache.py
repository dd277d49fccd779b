"""SQLite lanes keep a clean connection for the next lane (``db.engine._LaneCache``) instead of a
pool check-in and check-out per unit of work; anything not clean goes back to the pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from lendshield.db import make_engine, make_sessionmaker
from lendshield.db.engine import _LANE_CACHES, statement_lane
from lendshield.db.migrate import upgrade
from lendshield.ledger.models import LedgerHead
from lendshield.ledger.prepared import Prepared

_HEAD = Prepared(select(LedgerHead.next_seq).where(LedgerHead.id == 1))
_BROKEN = Prepared(text("SELECT no_such_column FROM ledger_head"), returns_rows=True)


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'lane.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _driver(session) -> object:  # type: ignore[no-untyped-def]
    return statement_lane(session).dbapi


def test_a_committed_lane_leaves_its_connection_to_the_next_one(engine) -> None:  # type: ignore[no-untyped-def]
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        first = _driver(s)
        _HEAD.run(s)
        s.commit()
    assert engine.pool.checkedout() == 1  # kept, not checked in
    with sessions() as s:
        assert _driver(s) is first
        s.rollback()
    with sessions() as s:
        assert _driver(s) is first  # a rolled-back lane is clean too
        s.commit()


def test_a_lane_left_in_a_transaction_or_failed_goes_back_to_the_pool(engine) -> None:  # type: ignore[no-untyped-def]
    sessions = make_sessionmaker(engine)
    cache = _LANE_CACHES[engine]
    with sessions() as s:
        _HEAD.run(s)  # closed without commit: the pool rolls it back
    assert cache.take() is None
    with sessions() as s, pytest.raises(Exception, match="no_such_column"):
        _BROKEN.run(s)
    with sessions() as s:  # the failed unit of work was closed, not kept
        assert cache.take() is None
        _HEAD.run(s)
        s.commit()
    kept = cache.take()
    assert kept is not None
    assert not kept.dbapi_connection.in_transaction  # type: ignore[union-attr]
    kept.close()


def test_no_more_than_the_limit_are_kept_and_dispose_closes_them(engine) -> None:  # type: ignore[no-untyped-def]
    # Lanes on SQLite are one at a time (BEGIN IMMEDIATE), so the connections of many threads'
    # lanes are handed to the cache directly here.
    cache = _LANE_CACHES[engine]
    raws = [engine.raw_connection() for _ in range(cache.limit + 2)]
    kept = [cache.give(raw) for raw in raws]
    assert kept == [True] * cache.limit + [False, False]
    for raw, was_kept in zip(raws, kept, strict=True):
        if not was_kept:
            raw.close()
    assert engine.pool.checkedout() == cache.limit
    engine.dispose()
    assert cache.take() is None
    assert engine.pool.checkedout() == 0


def test_orm_work_in_the_lane_returns_the_connection_to_the_pool(engine) -> None:  # type: ignore[no-untyped-def]
    sessions = make_sessionmaker(engine)
    with sessions() as s:
        _HEAD.run(s)
        assert s.get(LedgerHead, 1) is not None  # the ORM joins the lane's connection
        s.commit()
    assert _LANE_CACHES[engine].take() is None
    assert engine.pool.checkedout() == 0


def test_an_in_memory_engine_keeps_nothing() -> None:
    memory = make_engine("sqlite://")
    try:
        assert memory not in _LANE_CACHES
    finally:
        memory.dispose()
