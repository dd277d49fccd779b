"""The `lendshield` command as an operator runs it: init is idempotent and shows the token once;
errors are one line on stderr with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.cli.setup import initialise
from lendshield.crypto import KeyUnavailable
from lendshield.settings import Settings

LENDSHIELD = str(Path(sys.executable).parent / "lendshield")


def run(data: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
    env |= {"LENDSHIELD_DATA_DIR": str(data), "LENDSHIELD_ENVIRONMENT": "test"} | (extra_env or {})
    return subprocess.run([LENDSHIELD, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_init_is_idempotent_and_prints_the_token_once(tmp_path: Path) -> None:
    data = tmp_path / "var"
    first = run(data, "init")
    assert first.returncode == 0, first.stderr
    tokens = [ln for ln in first.stdout.splitlines() if ln.startswith("lsk_")]
    assert len(tokens) == 1
    assert (data / "keys.json").stat().st_mode & 0o777 == 0o600
    key_bytes = (data / "keys.json").read_bytes()
    second = run(data, "init")
    assert second.returncode == 0, second.stderr
    assert "Already initialised." in second.stdout
    assert "lsk_" not in second.stdout + second.stderr
    assert (data / "keys.json").read_bytes() == key_bytes
    assert tokens[0] not in (data / "lendshield.db").read_bytes().decode("latin-1")
    # The token works, and a new one can be issued from the CLI when it is lost.
    again = run(data, "principals", "token", "admin")
    assert again.returncode == 0
    assert again.stdout.strip().startswith("lsk_")
    assert again.stdout.strip() != tokens[0]


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    data = tmp_path / "var"
    # No key file yet: a command that needs keys says so in one line.
    assert "key file not found" in one_line_error(run(data, "keys", "rotate"))
    assert run(data, "init").returncode == 0
    assert "no principal named" in one_line_error(run(data, "principals", "token", "nobody"))
    assert "unknown or missing roles" in one_line_error(run(data, "principals", "create", "x", "--role", "pope"))
    assert "exists" in one_line_error(run(data, "principals", "create", "admin", "--role", "admin"))
    line = one_line_error(run(data, "init", extra_env={"LENDSHIELD_MAX_BODY_BYTES": "12"}))
    assert "LENDSHIELD_MAX_BODY_BYTES" in line
    line = one_line_error(run(data, "init", extra_env={"LENDSHIELD_DATABASE_URL": "postgresql+psycopg://nobody:secretpw@127.0.0.1:1/x"}))
    assert "secretpw" not in line


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "rotate", "--batch", "0")
    assert result.returncode == 2


def test_init_refuses_to_replace_a_lost_key_file(tmp_path: Path) -> None:
    data = tmp_path / "var"
    settings = Settings(data_dir=data, environment="test")
    rt, token = initialise(settings)
    assert token
    from lendshield.principals import service as principals
    from lendshield.subjects import service as subjects

    with rt.sessions() as session:
        writer = principals.create_principal(session, None, rt.catalog, name="w", kind="service", roles=["loan_system"], now=rt.clock.now())
        subjects.create_subject(session, rt, writer, kind="borrower", fields={"name": "张三"})
        session.commit()
    rt.engine.dispose()
    (data / "keys.json").unlink()
    with pytest.raises(KeyUnavailable):
        initialise(settings)
    assert not (data / "keys.json").exists()


def test_init_through_typer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LENDSHIELD_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LENDSHIELD_DATABASE_URL", raising=False)
    context.settings.cache_clear()
    context.runtime.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["init"])
        assert first.exit_code == 0, first.output
        assert first.output.count("lsk_") == 1
        second = runner.invoke(app, ["init"])
        assert second.exit_code == 0
        assert "lsk_" not in second.output
    finally:
        context.settings.cache_clear()
        context.runtime.cache_clear()
