"""`lendshield agent`: the reference device agent, run as a process (a phone in a terminal)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer

from lendshield.errors import InvalidInput

if TYPE_CHECKING:
    from lendshield.runtime import Runtime

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def context_runtime() -> Runtime:
    from lendshield.cli import context

    return context.runtime()


def register(app: typer.Typer) -> None:
    agent_app = typer.Typer(no_args_is_help=True, help="The reference device agent (the phone side of the protocol).")
    app.add_typer(agent_app, name="agent")
    devices_app = typer.Typer(no_args_is_help=True, help="Financed devices (the platform side).")
    app.add_typer(devices_app, name="devices")

    @devices_app.command("rotate-command-key")
    def rotate_command_key() -> None:
        """Make a new command key current; every device still under control is told, under its old key."""
        from lendshield.cli import context
        from lendshield.devices import service
        from lendshield.devices.rotation import rotate_command_key as rotate

        rt = context.runtime()
        with rt.sessions() as session:
            announced = rotate(session, rt, service.DeviceRules())
            session.commit()
        kid, _ = service.command_key(rt)
        typer.echo(f"{kid} is current; announced to {len(announced)} devices")

    @devices_app.command("notice")
    def show_notice(lang: str = typer.Option("en", "--lang", help="zh or en")) -> None:
        """Print the current device notice: every remote action, when it can happen, what never happens."""
        from lendshield.consent.service import render
        from lendshield.devices import notice, service

        if lang not in ("zh", "en"):
            raise InvalidInput("--lang: zh or en")
        draft = notice.draft(context_runtime(), service.DeviceRules())
        typer.echo(f"notice {draft.version}\n")
        typer.echo(render(draft.sections, draft.purpose_fields, 0 if lang == "zh" else 1))

    @devices_app.command("publish-notice")
    def publish_notice() -> None:
        """Publish the current device notice (the consent purpose device_management) if it is not yet."""
        from lendshield.devices import notice, service
        from lendshield.principals import Principal

        rt = context_runtime()
        officer = Principal(id="system", name="system", kind="service", roles=frozenset({"protection_officer"}))
        with rt.sessions() as session:
            row = notice.ensure_published(session, rt, officer, service.DeviceRules())
            session.commit()
            typer.echo(f"notice {row.version} sha256 {row.sha256}")

    @agent_app.command("init")
    def init(state: Path = typer.Option(..., "--state", help="The agent's state file (created, mode 0600).")) -> None:
        """Generate the device's own key pair; prints the public key to enrol the device with."""
        from lendshield.crypto.jws import b64url
        from lendshield.devices.agent import AgentState

        if state.exists():
            raise InvalidInput(f"{state.name} exists; refusing to replace a device key")
        typer.echo(b64url(AgentState.create(state).public_key))

    @agent_app.command("pin")
    def pin(
        state: Path = typer.Option(..., "--state"),
        device_id: str = typer.Option(..., "--device-id"),
        server: str = typer.Option(..., "--server", help="https://... of the LendShield API."),
        command_kid: str = typer.Option(..., "--command-kid"),
        command_key: str = typer.Option(..., "--command-key", help="base64url Ed25519 key from the enrolment answer."),
        ledger_key: str = typer.Option("", "--ledger-key", help="The log's note verifier key."),
        witness_key: list[str] = typer.Option([], "--witness-key", help="Require a cosignature by this witness (repeatable)."),
    ) -> None:
        """Pin what enrolment returned: the device id, the platform's command key and the log key."""
        from lendshield.devices.agent import AgentState, _unb64

        host = urlsplit(server).hostname or ""
        if urlsplit(server).scheme != "https" and host not in LOOPBACK:
            # The channel must be encrypted (the seed: 加密传输); plain HTTP only on this machine, for tests.
            raise InvalidInput("--server: the agent checks in over HTTPS (plain HTTP only to a loopback address)")
        loaded = AgentState.load(state)
        raw = _unb64(command_key)
        if len(raw) != 32:
            raise InvalidInput("--command-key: an Ed25519 public key is 32 bytes")
        loaded.pin(
            device_id=device_id, server=server, command_kid=command_kid, command_key=raw, ledger_key=ledger_key, witness_keys=witness_key
        )
        typer.echo(f"pinned {command_kid} for device {device_id}")

    @agent_app.command("run")
    def run(
        state: Path = typer.Option(..., "--state"),
        once: bool = typer.Option(False, help="Check in once and exit."),
        interval: float = typer.Option(5.0, min=0.2, help="Seconds between check-ins."),
    ) -> None:
        """Check in, verify, apply and acknowledge commands; refuse and report anything else."""
        import httpx

        from lendshield.devices.agent import AgentError, AgentState, sync

        loaded = AgentState.load(state)
        with httpx.Client(timeout=10) as client:
            while True:
                try:
                    for outcome in sync(loaded, client):
                        typer.echo(outcome)
                except AgentError as exc:
                    if once:
                        raise
                    typer.echo(f"not synced: {exc.detail}", err=True)  # offline: try again later, change nothing
                if once:
                    return
                time.sleep(interval)
