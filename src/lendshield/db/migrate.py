"""Alembic, driven from code: `lendshield init` and the tests call `upgrade()`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

_HERE = Path(__file__).resolve().parent


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to every branch head (each domain owns a branch)."""
    command.upgrade(alembic_config(engine), "heads")


def downgrade_all(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")
