"""`lendshield watch ...` as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.runtime import Runtime
from tests.watch.conftest import alerts

LENDSHIELD = str(Path(sys.executable).parent / "lendshield")


@pytest.fixture
def cli(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(context, "runtime", lambda: rt)
    return CliRunner()


def test_plant_touch_run_list(rt: Runtime, cli: CliRunner, client, make_actor) -> None:  # type: ignore[no-untyped-def]
    made = cli.invoke(app, ["watch", "canaries", "create", "--count", "2", "--label", "cli-batch"])
    assert made.exit_code == 0, made.output
    assert "created 2 canaries" in made.output
    ids = [line.split()[0] for line in made.output.splitlines() if line.endswith(" cli-batch")]
    listed = cli.invoke(app, ["watch", "canaries", "list"])
    assert "2 canaries" in listed.output
    assert all(i in listed.output for i in ids)
    quiet = cli.invoke(app, ["watch", "run"])
    assert "raised 0 alerts" in quiet.output
    risk = make_actor("risk_officer")
    assert client.get(f"/v1/subjects/{ids[0]}", headers={**risk.headers, "X-Purpose": "fraud_prevention"}).status_code == 200
    ran = cli.invoke(app, ["watch", "run"])
    assert ran.exit_code == 0
    assert "raised 1 alerts" in ran.output
    shown = cli.invoke(app, ["watch", "alerts"])
    assert "canary-touch" in shown.output
    assert risk.principal.id in shown.output
    assert "1 alerts" in cli.invoke(app, ["watch", "alerts", "--status", "all"]).output
    assert "0 alerts" in cli.invoke(app, ["watch", "alerts", "--status", "resolved"]).output
    assert "queued job" in cli.invoke(app, ["watch", "schedule"]).output
    assert "already queued" in cli.invoke(app, ["watch", "schedule"]).output
    assert len(alerts(rt)) == 1


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LENDSHIELD_")}
    env |= {"LENDSHIELD_DATA_DIR": str(tmp_path), "LENDSHIELD_ENVIRONMENT": "test"}
    bad = subprocess.run(
        [LENDSHIELD, "watch", "alerts", "--status", "closed"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --status is open, acknowledged, resolved or all"
    usage = subprocess.run(
        [LENDSHIELD, "watch", "canaries", "create", "--count", "0"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert usage.returncode == 2
    assert not (tmp_path / "lendshield.db").exists()  # refused before anything was created
