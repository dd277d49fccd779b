"""Storage: engine, sessions, migrations. SQLite (WAL) by default, PostgreSQL in production."""

from lendshield.db.base import Base, utcnow_column
from lendshield.db.engine import make_engine, make_sessionmaker

__all__ = ["Base", "make_engine", "make_sessionmaker", "utcnow_column"]
