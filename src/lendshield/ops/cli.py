"""CLI: backups, backup keys and restore drills."""

from __future__ import annotations

from pathlib import Path

import typer

from lendshield.cli import context
from lendshield.errors import InvalidInput


def register(app: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="Backup encryption keys (kept apart from backups and data).")
    app.add_typer(keys, name="backup-key")

    @keys.command("new")
    def new_key(path: Path = typer.Argument(..., help="Where to write the new identity (mode 0600).")) -> None:
        """Create a backup identity; prints the public recipient to give `lendshield backup`."""
        from lendshield.crypto.backup_keys import generate_identity

        if path.exists():
            raise InvalidInput(f"{path.name} exists; refusing to overwrite a key")
        typer.echo(generate_identity(path))

    @app.command("backup")
    def backup(
        out: Path = typer.Option(None, "--out", help="Directory for the backup (default: settings backup_dir)."),
        recipient: str = typer.Option(..., "--recipient", help="age X25519 recipient (age1...) of the backup key."),
    ) -> None:
        """Write an encrypted, consistent backup of the database with a manifest."""
        from lendshield.ops.backup import make_backup
        from lendshield.principals import SYSTEM

        rt = context.runtime()
        result = make_backup(rt, out or rt.settings.resolved_backup_dir(), recipient, SYSTEM)
        typer.echo(str(result.path))

    @app.command("worker")
    def worker(once: bool = typer.Option(False, help="Run the jobs that are due, then exit.")) -> None:
        """Run background jobs from the database queue (start as many workers as you like)."""
        from datetime import timedelta

        from lendshield.ops import queue

        rt = context.runtime()
        queue.load_handler_modules(rt.settings.job_modules)
        ran = queue.work(rt, once=once, lease=timedelta(seconds=rt.settings.job_lease_s))
        typer.echo(f"ran {ran} jobs")

    @app.command("restore-drill")
    def restore_drill(
        backup_file: Path = typer.Argument(..., exists=False, help="The backup file."),
        identity: Path = typer.Option(..., "--identity", help="The backup identity file."),
        report_dir: Path = typer.Option(Path("."), "--report-dir", help="Where to write the JSON and HTML report."),
        sample: int = typer.Option(25, min=1, max=10_000, help="Subjects whose fields are decrypted."),
    ) -> None:
        """Restore a backup into a scratch database and prove it is good; exit 1 if it is not."""
        from lendshield.ops.drill import restore_drill as run
        from lendshield.principals import SYSTEM

        if not backup_file.is_file():
            raise InvalidInput(f"no backup file at {backup_file.name}")
        report = run(context.runtime(), backup_file, identity, SYSTEM, sample=sample, report_dir=report_dir)
        for check in report.checks:
            typer.echo(f"{'pass' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not report.ok:
            raise typer.Exit(1)
