"""CLI commands of the collection guard: `lendshield collection ...`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from lendshield.cli import context


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    collection = typer.Typer(no_args_is_help=True, help="The collection guard: rules, screening, adapter.")
    app.add_typer(collection, name="collection")

    @collection.command("rules")
    def show_rules(preset: str = typer.Option("", help="Preset to show (default: the one in force).")) -> None:
        """Print the contact rules of a preset, with their ids."""
        from lendshield.collection.rules import describe, load_rules

        s = context.settings()
        typer.echo(json.dumps(describe(load_rules(s.policies_dir), preset or s.collection_preset), ensure_ascii=False, indent=2))

    @collection.command("screen")
    def screen(
        text: str = typer.Argument("-", help="The message, or - to read it from standard input."),
        audience: str = typer.Option("debtor", help="debtor or third_party."),
        templates: Path | None = typer.Option(None, "--templates", help="A file of templates, one per line, to screen each."),
    ) -> None:
        """Screen a message (or every line of a templates file); exit 1 when anything would be blocked."""
        from lendshield.collection.screening import load_screener
        from lendshield.errors import InvalidInput

        if audience not in ("debtor", "third_party"):
            raise InvalidInput("--audience must be debtor or third_party")
        screener = load_screener(context.settings().policies_dir)
        if templates is not None:
            try:
                lines = templates.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read {templates.name} as UTF-8 text") from exc
        else:
            lines = [sys.stdin.read() if text == "-" else text]
        blocked = 0
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            hits = screener.screen(line, audience)  # type: ignore[arg-type]
            if hits:
                blocked += 1
                spans = "; ".join(f"{h.rule_id} [{h.start}:{h.end}] {h.text!r}" for h in hits)
                typer.echo(f"{number}: blocked: {spans}")
            elif templates is None:
                typer.echo("ok: nothing would be blocked")
        if blocked:
            raise typer.Exit(1)

    @collection.command("adapter-secret")
    def adapter_secret() -> None:
        """Print the secret the telephony adapter signs its callbacks with (HMAC-SHA256, hex)."""
        from lendshield.collection.recordings import CALLBACK_SECRET

        typer.echo(context.runtime().keys.secret(CALLBACK_SECRET).hex())

    @collection.command("outbox")
    def outbox(last: int = typer.Option(5, "--last", min=1, max=100, help="How many of the newest messages.")) -> None:
        """Show what the built-in outbox adapter "sent" (one-time codes included): the demo's phones.

        Refused in production, where a real provider delivers and nothing is kept to show.
        """
        from lendshield import ledger
        from lendshield.collection.adapter import recent_outbox
        from lendshield.errors import Forbidden

        rt = context.runtime()
        if rt.settings.environment == "production":
            raise Forbidden("the outbox is for the embedded default and demos, not production")
        mask = rt.catalog.fields["mobile"].mask
        with rt.sessions() as session:
            messages = recent_outbox(session, rt, last)
            ledger.append(
                session,
                ledger.Entry(
                    time=rt.clock.now(), actor="system", action="collection.outbox_read", object="outbox", details={"shown": len(messages)}
                ),
            )
            session.commit()
        for m in messages:
            typer.echo(f"{m.created_at:%Y-%m-%d %H:%M:%S} UTC  {m.kind:4}  to {mask(m.to_e164)}  {m.text}")
