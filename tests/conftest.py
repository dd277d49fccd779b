"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

``LENDSHIELD_TEST_DATABASE_URL`` names a PostgreSQL server; each test session creates its own
database there (so parallel runs never meet) and drops it at the end. Under ``CI=true`` a
configured but unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from lendshield.clock import FrozenClock
from lendshield.crypto import LocalKeyFile
from lendshield.db import make_engine
from lendshield.db.base import Base
from lendshield.db.migrate import upgrade
from lendshield.db.models_registry import import_all_models
from lendshield.principals import Principal
from lendshield.principals import service as principals
from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings
from lendshield.web.app import create_app

PG_URL = os.environ.get("LENDSHIELD_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a Monday

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs against the PostgreSQL test server")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but LENDSHIELD_TEST_DATABASE_URL is not set")
        pytest.skip("LENDSHIELD_TEST_DATABASE_URL not set")
    name = f"lendshield_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to reach the server means the same here
        if IN_CI:
            pytest.fail(f"PostgreSQL at LENDSHIELD_TEST_DATABASE_URL is unreachable: {type(exc).__name__}")
        pytest.skip("PostgreSQL unreachable")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _reset_pg(engine: Engine) -> None:
    import_all_models()
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO ledger_head (id, next_seq) VALUES (1, 0)"))


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "lendshield.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    _reset_pg(engine)
    engine.dispose()
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    return Settings(environment="test", data_dir=data, database_url=db_url)


@pytest.fixture
def rt(settings: Settings, clock: FrozenClock) -> Iterator[Runtime]:
    runtime = build_runtime(settings, clock=clock)
    yield runtime
    runtime.engine.dispose()


@dataclass
class Actor:
    principal: Principal
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_actor(rt: Runtime):  # type: ignore[no-untyped-def]
    def make(*roles: str, name: str | None = None) -> Actor:
        with rt.sessions() as session:
            p = principals.create_principal(
                session,
                None,
                rt.catalog,
                name=name or f"{'-'.join(roles)}-{uuid.uuid4().hex[:6]}",
                kind="staff",
                roles=roles,
                now=rt.clock.now(),
            )
            token = principals.issue_token(session, None, p.id, label="test", now=rt.clock.now())
            session.commit()
        return Actor(p, token)

    return make


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as c:
        yield c
