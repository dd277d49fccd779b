"""The `lendshield` command: one sub-command group per domain."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from lendshield.cli import context
from lendshield.errors import LendShieldError

if TYPE_CHECKING:
    from lendshield.runtime import Runtime

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


def _rewrap_all(rt: Runtime, batch: int, what: str) -> int:
    """Re-wrap every data key not under the current KEK, one transaction per batch, with a bar."""
    from rich.progress import Progress

    from lendshield.subjects import rotation

    with rt.sessions() as session:
        total = rotation.keys_needing_rewrap(session, rt)
    done_total = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(what, total=total)
        while True:
            with rt.sessions() as session:
                done = rotation.rewrap_batch(session, rt, batch)
                session.commit()
            if done == 0:
                break
            done_total += done
            progress.advance(task, done)
    return done_total


@keys_app.command("rotate")
def keys_rotate(
    batch: int = typer.Option(500, min=1, max=100_000, help="Data keys re-wrapped per transaction."),
    resume: bool = typer.Option(False, help="Finish an interrupted rotation without making a new KEK."),
) -> None:
    """Make a new KEK current and re-wrap every data key under it, online and resumable.

    The old KEK is kept: retire it later with `lendshield keys retire VERSION`.
    """
    from lendshield.principals import SYSTEM
    from lendshield.subjects import rotation

    rt = context.runtime()
    with rt.sessions() as session:
        old = rt.keys.current_kek_version()
        if not resume:
            version = rotation.start_rotation(session, rt, SYSTEM)
            session.commit()
            typer.echo(f"New KEK version {version} is current.")
    done = _rewrap_all(rt, batch, "re-wrapping data keys")
    with rt.sessions() as session:
        usage = rotation.kek_usage(session, rt)
    current = rt.keys.current_kek_version()
    older = [v for v in usage if v != current]
    typer.echo(f"Re-wrapped {done} data keys under KEK version {current}.")
    if older:
        # Retiring is a later step: a process may still commit a key it wrapped before the switch.
        hint = old if old in older else older[0]
        typer.echo(f"Older KEK versions kept: {', '.join(older)}. Retire each later: `lendshield keys retire {hint}`.")


@keys_app.command("retire")
def keys_retire(
    version: str = typer.Argument(..., help="The KEK version to retire (not the current one)."),
    batch: int = typer.Option(500, min=1, max=100_000, help="Data keys re-wrapped per transaction in the sweep."),
) -> None:
    """Retire an old KEK: re-wrap whatever is still under it, then remove it from the key store.

    Refused for the current KEK and while any data key is still wrapped under the version.
    """
    from lendshield.principals import SYSTEM
    from lendshield.subjects import rotation

    if not version.isdigit() or len(version) > 9:
        raise LendShieldError("VERSION: a KEK version number, as `lendshield keys status` lists them")
    rt = context.runtime()
    if version == rt.keys.current_kek_version():
        raise rotation.KekRetireRefused(f"KEK version {version} is the current one; rotate to a new KEK before retiring it")
    if version not in rt.keys.kek_versions():
        raise rotation.KekRetireRefused(f"KEK version {version} is not in the key store (unknown or already retired)")
    # A data key wrapped under the old KEK since the rotation's own sweep is re-wrapped here.
    swept = _rewrap_all(rt, batch, f"re-wrapping data keys before retiring KEK {version}")
    with rt.sessions() as session:
        rotation.retire(session, rt, SYSTEM, version)
        session.commit()
    typer.echo(f"Re-wrapped {swept} data keys; retired KEK version {version}.")


@keys_app.command("status")
def keys_status() -> None:
    """KEK versions in the key store, the current one, and how many data keys each wraps."""
    from lendshield.subjects import rotation

    rt = context.runtime()
    with rt.sessions() as session:
        usage = rotation.kek_usage(session, rt)
    current = rt.keys.current_kek_version()
    for version, n in usage.items():
        typer.echo(f"{version}\t{n} data keys" + ("\tcurrent" if version == current else ""))


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
