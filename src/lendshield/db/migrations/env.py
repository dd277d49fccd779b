"""Alembic environment. Each domain owns a migration branch (its label is the package name)."""

from __future__ import annotations

from alembic import context

from lendshield.db.base import Base
from lendshield.db.models_registry import import_all_models

import_all_models()
config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
