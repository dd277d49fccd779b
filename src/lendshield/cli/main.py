"""The `lendshield` command: one sub-command group per domain."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from lendshield.cli import context
from lendshield.errors import LendShieldError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="LendShield: protect borrowers' data and financed devices.",
)
keys_app = typer.Typer(no_args_is_help=True, help="Key management.")
principals_app = typer.Typer(no_args_is_help=True, help="Staff and service principals.")
app.add_typer(keys_app, name="keys")
app.add_typer(principals_app, name="principals")
console = Console(stderr=True)

# Each domain adds its own commands (lendshield.<domain>.cli.register).
DOMAIN_CLI_MODULES = (
    "lendshield.ledger.cli",
    "lendshield.policy.cli",
    "lendshield.consent.cli",
    "lendshield.loans.cli",
    "lendshield.collection.cli",
    "lendshield.dlp.cli",
    "lendshield.watch.cli",
    "lendshield.ops.cli",
    "lendshield.devices.cli",
    "lendshield.accounts.cli",
    "lendshield.rights.cli",
    "lendshield.transfers.cli",
)
for _module in DOMAIN_CLI_MODULES:
    importlib.import_module(_module).register(app)


@app.command()
def init() -> None:
    """Create the data directory, key file and schema, and the first administrator."""
    from lendshield.cli.setup import initialise

    _rt, token = initialise(context.settings())
    if token:
        typer.echo("Bootstrap administrator token (shown once, store it now):")
        typer.echo(token)
    else:
        typer.echo("Already initialised.")


@app.command()
def demo(borrowers: int = typer.Option(1000, min=1, max=100_000, help="How many synthetic borrowers.")) -> None:
    """Seed synthetic borrowers (Faker zh_CN, marked synthetic) with loans and demo staff."""
    from lendshield.demo.seed import seed_demo

    made = seed_demo(context.runtime(), borrowers=borrowers, progress=console)
    typer.echo(f"Seeded {made} synthetic borrowers.")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Bind address (default from settings)."),
    port: int | None = typer.Option(None, help="Port (default from settings)."),
    workers: int = typer.Option(1, min=1, max=64, help="API processes."),
) -> None:
    """Serve the API and pages."""
    import uvicorn

    s = context.settings()
    uvicorn.run(
        "lendshield.web.app:app_from_env",
        factory=True,
        host=host or s.host,
        port=port or s.port,
        workers=workers,
        log_level=s.log_level.lower(),
        access_log=False,
    )


@keys_app.command("rotate")
def keys_rotate(
    batch: int = typer.Option(500, min=1, max=100_000, help="Data keys re-wrapped per transaction."),
    resume: bool = typer.Option(False, help="Finish an interrupted rotation without making a new KEK."),
) -> None:
    """Make a new KEK current and re-wrap every data key under it, online and resumable."""
    from rich.progress import Progress

    from lendshield.principals import SYSTEM
    from lendshield.subjects import rotation

    rt = context.runtime()
    with rt.sessions() as session:
        if not resume:
            version = rotation.start_rotation(session, rt, SYSTEM)
            session.commit()
            typer.echo(f"New KEK version {version} is current.")
        total = rotation.keys_needing_rewrap(session, rt)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("re-wrapping data keys", total=total)
        while True:
            with rt.sessions() as session:
                done = rotation.rewrap_batch(session, rt, batch)
                session.commit()
            if done == 0:
                break
            progress.advance(task, done)
    with rt.sessions() as session:
        retired = rotation.retire_unused(session, rt, SYSTEM)
        session.commit()
    typer.echo(f"Re-wrapped {total} data keys; retired KEK versions: {', '.join(retired) or 'none'}.")


@principals_app.command("create")
def principals_create(
    name: str, roles: list[str] = typer.Option(..., "--role", help="Role (repeatable)."), kind: str = typer.Option("staff")
) -> None:
    """Create a principal and print its first API token (shown once)."""
    from lendshield.principals import service

    rt = context.runtime()
    with rt.sessions() as session:
        p = service.create_principal(session, None, rt.catalog, name=name, kind=kind, roles=roles, now=rt.clock.now())
        token = service.issue_token(session, None, p.id, label="cli", now=rt.clock.now())
        session.commit()
    typer.echo(f"{p.id} {p.name} {','.join(sorted(p.roles))}")
    typer.echo(token)


@principals_app.command("token")
def principals_token(name: str) -> None:
    """Issue a new API token for an existing principal (for example a lost bootstrap token)."""
    from sqlalchemy import select

    from lendshield.principals import service
    from lendshield.principals.models import PrincipalRow

    rt = context.runtime()
    with rt.sessions() as session:
        pid = session.scalar(select(PrincipalRow.id).where(PrincipalRow.name == name))
        if pid is None:
            raise LendShieldError(f"no principal named {name!r}")
        token = service.issue_token(session, None, pid, label="cli", now=rt.clock.now())
        session.commit()
    typer.echo(token)


def main() -> None:
    """Entry point: the one place CLI errors become a one-line message and a non-zero exit."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        app()
    except LendShieldError as exc:
        console.print(f"error: {exc.detail}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except ValidationError as exc:
        # Settings from the environment: name the variable, not its value (it may be a secret).
        where = ", ".join("LENDSHIELD_" + ".".join(str(p) for p in e["loc"]).upper() for e in exc.errors())
        console.print(f"error: invalid configuration in {where or 'settings'}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except SQLAlchemyError as exc:
        # The URL may carry a password, so only the kind of failure is shown.
        console.print(f"error: database unavailable or failing ({type(exc).__name__})", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
