"""Settings come from LENDSHIELD_ variables only; the clock is injectable and always aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from lendshield.clock import FrozenClock, SystemClock
from lendshield.settings import Settings


def test_environment_prefix_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LENDSHIELD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LENDSHIELD_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("DATABASE_URL", "postgresql://ignored")
    s = Settings()
    assert s.data_dir == tmp_path
    assert s.max_body_bytes == 4096
    assert s.resolved_database_url() == f"sqlite:///{(tmp_path / 'lendshield.db').resolve()}"
    assert s.resolved_key_file() == tmp_path / "keys.json"
    assert (s.policies_dir / "catalog.yaml").exists()


def test_invalid_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSHIELD_MAX_BODY_BYTES", "12")
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ValidationError):
        Settings(environment="staging")  # type: ignore[arg-type]


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(ValidationError):
        s.port = 1  # type: ignore[misc]


def test_clocks() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = FrozenClock(start)
    assert clock.now() == start
    clock.advance(timedelta(days=1))
    assert clock.now() == start + timedelta(days=1)
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2026, 1, 1))
