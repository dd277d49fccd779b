"""`lendshield accounts`: create staff console accounts (password + mandatory TOTP)."""

from __future__ import annotations

import typer

from lendshield.cli import context


def register(app: typer.Typer) -> None:
    accounts_app = typer.Typer(no_args_is_help=True, help="Staff and borrower accounts for the pages.")
    app.add_typer(accounts_app, name="accounts")

    @accounts_app.command("create-staff")
    def create_staff(
        username: str = typer.Argument(..., help="Sign-in name (also the principal's name)."),
        roles: list[str] = typer.Option([], "--role", help="Role (repeatable); required unless --existing."),
        existing: bool = typer.Option(
            False, "--existing", help="Give an existing principal of that name (e.g. demo-collector) a console account."
        ),
        password: str = typer.Option(
            ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 12 characters, 3 classes, not guessable."
        ),
    ) -> None:
        """Create a staff principal and its console account; prints the TOTP enrolment URI and
        the one-time recovery codes once."""
        from sqlalchemy import select

        from lendshield.accounts import service as accounts
        from lendshield.errors import InvalidInput, NotFound
        from lendshield.principals import service as principals
        from lendshield.principals.models import PrincipalRow

        rt = context.runtime()
        with rt.sessions() as session:
            if existing:
                if roles:
                    raise InvalidInput("--existing keeps the principal's roles; leave out --role")
                pid = session.scalar(select(PrincipalRow.id).where(PrincipalRow.name == username))
                if pid is None:
                    raise NotFound(f"no principal named {username!r}")
            else:
                if not roles:
                    raise InvalidInput("give at least one --role (or --existing for a principal that exists)")
                pid = principals.create_principal(
                    session, None, rt.catalog, name=username, kind="staff", roles=roles, now=rt.clock.now()
                ).id
            made = accounts.create_staff_account(session, rt, None, principal_id=pid, username=username, password=password)
            session.commit()
        typer.echo("Add this to an authenticator app (TOTP), then sign in at /console/login:")
        typer.echo(made.totp_uri)
        typer.echo("Recovery codes (each works once; store them offline):")
        for code in made.recovery_codes:
            typer.echo(f"  {code}")
