"""Helpers for HTTP tests: a snapshot of row counts, to prove a refused request changed nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from lendshield.db.base import Base
from lendshield.db.models_registry import import_all_models
from lendshield.runtime import Runtime


@pytest.fixture
def row_counts(rt: Runtime) -> Callable[[], dict[str, int]]:
    import_all_models()

    def snapshot() -> dict[str, int]:
        with rt.sessions() as session:
            counts = {t.name: int(session.scalar(select(func.count()).select_from(t)) or 0) for t in Base.metadata.sorted_tables}
            session.rollback()
        return counts

    return snapshot
