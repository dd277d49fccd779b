"""`lendshield agent`: init makes the device key, pin refuses an unencrypted channel."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lendshield.cli.main import app
from lendshield.crypto.jws import b64url
from lendshield.devices.agent import AgentState


def test_init_then_pin_refuses_plain_http_to_another_host(tmp_path: Path) -> None:
    runner = CliRunner()
    state = tmp_path / "phone.json"
    made = runner.invoke(app, ["agent", "init", "--state", str(state)])
    assert made.exit_code == 0, made.output
    assert made.output.strip() == b64url(AgentState.load(state).public_key)
    assert runner.invoke(app, ["agent", "init", "--state", str(state)]).exit_code != 0  # never replaces a device key
    pin = ["agent", "pin", "--state", str(state), "--device-id", "d-1", "--command-kid", "cmd-1", "--command-key", b64url(bytes(32))]
    refused = runner.invoke(app, [*pin, "--server", "http://lender.example"])
    assert refused.exit_code != 0
    assert "HTTPS" in str(refused.exception)
    assert AgentState.load(state).server == ""
    ok = runner.invoke(app, [*pin, "--server", "https://lender.example", "--witness-key", "w.example+00000000+AA"])
    assert ok.exit_code == 0, ok.output
    loaded = AgentState.load(state)
    assert (loaded.server, loaded.witness_keys) == ("https://lender.example", ["w.example+00000000+AA"])
