"""CLI commands of the consent domain."""

from __future__ import annotations

import typer

from lendshield.cli import context


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    consent = typer.Typer(no_args_is_help=True, help="Privacy notices and consents.")
    app.add_typer(consent, name="consent")

    @consent.command("publish-default")
    def publish_default() -> None:
        """Publish the notice in purposes.yaml if that version is not published yet (checked against PIPL Art. 17)."""
        from lendshield.consent import service
        from lendshield.principals import Principal

        rt = context.runtime()
        officer = Principal(id="system", name="system", kind="service", roles=frozenset({"protection_officer"}))
        with rt.sessions() as session:
            row = service.ensure_default_notice(session, rt, officer)
            session.commit()
            typer.echo(f"notice {row.version} sha256 {row.sha256}")
