"""Ledger tests run the integrator explicitly: the in-process job runner is switched off."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendshield.crypto import LocalKeyFile
from lendshield.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    LocalKeyFile.create(data / "keys.json")
    return Settings(environment="test", data_dir=data, database_url=db_url, jobs_enabled=False)
