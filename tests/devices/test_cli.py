"""`lendshield agent`: init makes the device key, pin refuses an unencrypted channel."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lendshield.cli import context
from lendshield.cli.main import app
from lendshield.crypto.jws import b64url
from lendshield.devices import agent
from lendshield.devices.agent import AgentState
from lendshield.devices.service import command_key
from lendshield.ledger.tree import integrate_all
from lendshield.runtime import Runtime


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


def test_rotate_command_key_from_the_cli(rt: Runtime, client, make_actor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from tests.devices.test_agent import _enrolled_agent

    state = _enrolled_agent(rt, client, make_actor, tmp_path)
    monkeypatch.setattr(context, "runtime", lambda: rt)  # the CLI's runtime is this test's
    done = CliRunner().invoke(app, ["devices", "rotate-command-key"])
    assert done.exit_code == 0, done.output
    (old_kid,) = state.command_keys
    new_kid, _ = command_key(rt)
    assert done.output.strip() == f"{new_kid} is current; announced to 1 devices"
    integrate_all(rt)
    assert agent.sync(state, client, now=int(rt.clock.now().timestamp())) == ["rotate_key"]
    assert set(state.command_keys) == {new_kid} != {old_kid}


def test_device_notice_is_shown_then_published_from_the_cli(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    from lendshield.consent.models import NoticeRow
    from lendshield.devices import notice
    from lendshield.devices.service import DeviceRules

    monkeypatch.setattr(context, "runtime", lambda: rt)
    version = notice.current_version(rt, DeviceRules())
    shown = CliRunner().invoke(app, ["devices", "notice", "--lang", "en"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"notice {version}\n")
    for action in ("remind:", "restrict:", "lock:", "unlock:", "release:"):
        assert action in shown.output
    assert "远程操作" in CliRunner().invoke(app, ["devices", "notice", "--lang", "zh"]).output
    with rt.sessions() as session:
        assert session.get(NoticeRow, version) is None
    published = CliRunner().invoke(app, ["devices", "publish-notice"])
    assert published.exit_code == 0, published.output
    with rt.sessions() as session:
        row = session.get(NoticeRow, version)
        assert row is not None
        assert published.output.strip() == f"notice {version} sha256 {row.sha256}"
    again = CliRunner().invoke(app, ["devices", "publish-notice"])
    assert again.output == published.output  # publishing twice changes nothing
