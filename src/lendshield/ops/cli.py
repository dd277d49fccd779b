"""CLI: backups, backup keys and restore drills."""

from __future__ import annotations

from pathlib import Path

import typer

from lendshield.cli import context
from lendshield.errors import InvalidInput


def register(app: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="Backup encryption keys (kept apart from backups and data).")
    app.add_typer(keys, name="backup-key")
    register_report(app)

    @keys.command("new")
    def new_key(path: Path = typer.Argument(..., help="Where to write the new identity (mode 0600).")) -> None:
        """Create a backup identity; prints the public recipient to give `lendshield backup`."""
        from lendshield.crypto.backup_keys import generate_identity

        if path.exists():
            raise InvalidInput(f"{path.name} exists; refusing to overwrite a key")
        typer.echo(generate_identity(path))

    @keys.command("escrow")
    def escrow(
        out: Path = typer.Option(..., "--out", help="Directory for the share files (hand one to each officer, then delete)."),
        shares: int = typer.Option(5, "--shares", min=2, max=255, help="How many officers hold a share (N)."),
        threshold: int = typer.Option(3, "--threshold", min=2, max=255, help="How many shares rebuild the identity (M)."),
    ) -> None:
        """Create an escrow identity split M of N among officers; prints its recipient for `backup-keys`."""
        import os
        import tempfile

        from lendshield.crypto.backup_keys import generate_identity
        from lendshield.ops.escrow import split

        out.mkdir(parents=True, exist_ok=True)
        if any(out.glob("share-*.txt")):
            raise InvalidInput("the directory already holds shares; refusing to mix splits")
        with tempfile.TemporaryDirectory(prefix="lendshield-escrow-") as tmp:
            identity = Path(tmp) / "escrow.key"
            recipient = generate_identity(identity)
            lines = split(identity.read_bytes(), shares=shares, threshold=threshold)
        for i, line in enumerate(lines, start=1):
            path = out / f"share-{i}-of-{shares}.txt"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(line + "\n")
        typer.echo(recipient)
        typer.echo(f"{shares} shares written; any {threshold} rebuild the identity (`lendshield backup-key recover`)", err=True)

    @keys.command("recover")
    def recover(
        share: list[Path] = typer.Option(..., "--share", help="A share file (repeat for each officer's share)."),
        out: Path = typer.Option(..., "--out", help="Where to write the rebuilt identity (mode 0600)."),
    ) -> None:
        """Rebuild an escrow identity from M officers' shares."""
        import os

        from lendshield.ops.escrow import combine

        if out.exists():
            raise InvalidInput(f"{out.name} exists; refusing to overwrite a key")
        secret = combine([p.read_text() for p in share])
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secret)
        typer.echo(f"identity rebuilt from {len(share)} shares")

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
    def worker(
        once: bool = typer.Option(False, help="Run the jobs that are due, then exit."),
        maintenance: bool = typer.Option(True, help="Start the maintenance schedules (ledger integration, drill age, sweep)."),
    ) -> None:
        """Run background jobs from the database queue (start as many workers as you like)."""
        from datetime import timedelta

        from lendshield.ops import jobs as ops_jobs
        from lendshield.ops import queue

        rt = context.runtime()
        queue.load_handler_modules([*ops_jobs.BUILTIN_JOB_MODULES, *rt.settings.job_modules])
        started: list[str] = []
        if maintenance:
            with rt.sessions() as session:
                started = ops_jobs.ensure_maintenance(session, rt)
                session.commit()
        if started:
            typer.echo(f"started schedules: {', '.join(started)}")
        ran = queue.work(rt, once=once, lease=timedelta(seconds=rt.settings.job_lease_s))
        typer.echo(f"ran {ran} jobs")

    jobs_app = typer.Typer(no_args_is_help=True, help="The worker's jobs and their schedules.")
    app.add_typer(jobs_app, name="jobs")

    @jobs_app.command("list")
    def jobs_list() -> None:
        """Every job kind a worker runs, and the queue by kind and status."""
        from sqlalchemy import func, select

        from lendshield.ops import jobs as ops_jobs
        from lendshield.ops import queue
        from lendshield.ops.models import JobRow

        rt = context.runtime()
        queue.load_handler_modules([*ops_jobs.BUILTIN_JOB_MODULES, *rt.settings.job_modules])
        with rt.sessions() as session:
            counts = session.execute(select(JobRow.kind, JobRow.status, func.count()).group_by(JobRow.kind, JobRow.status)).all()
        by_kind: dict[str, dict[str, int]] = {}
        for kind, status, n in counts:
            by_kind.setdefault(kind, {})[status] = int(n)
        for kind in sorted(set(queue.registered_kinds()) | set(by_kind)):
            states = ", ".join(f"{s} {n}" for s, n in sorted(by_kind.get(kind, {}).items())) or "none queued"
            typer.echo(f"{kind}\t{states}")

    @jobs_app.command("schedule-backups")
    def schedule_backups(
        recipient: str = typer.Option(..., "--recipient", help="age X25519 recipient (age1...) of the backup key."),
        every_hours: float = typer.Option(24.0, "--every-hours", min=0.01, help="Period between backups."),
        out: Path = typer.Option(None, "--out", help="Directory for the backups (default: settings backup_dir)."),
    ) -> None:
        """Back up on a schedule, run by `lendshield worker` or the embedded server (the first backup is taken now)."""
        from lendshield.crypto.backup_keys import parse_recipient
        from lendshield.ops import jobs as ops_jobs
        from lendshield.ops.queue import enqueue

        parse_recipient(recipient)  # refuse a typo now, not at 3 a.m.
        rt = context.runtime()
        payload = {"recipient": recipient, "out_dir": str(out) if out else None, "every_s": every_hours * ops_jobs.HOUR}
        with rt.sessions() as session:
            job_id = enqueue(session, "ops.backup", payload, now=rt.clock.now(), unique_key="chain:ops.backup")
            session.commit()
        typer.echo("backups are already scheduled" if job_id is None else f"scheduled backups every {every_hours:g} h (job {job_id})")

    @jobs_app.command("schedule-drills")
    def schedule_drills(
        identity: Path = typer.Option(..., "--identity", help="The backup identity file (read by the worker at each drill)."),
        every_days: float = typer.Option(7.0, "--every-days", min=0.01, help="Period between drills."),
        backups: Path = typer.Option(None, "--backups", help="Where the backups are (default: settings backup_dir)."),
        report_dir: Path = typer.Option(
            None, "--report-dir", help="Where to write each drill's JSON and HTML report (default: settings drill_report_dir)."
        ),
    ) -> None:
        """Drill the newest backup on a schedule, run by `lendshield worker` or the embedded server (the first runs now)."""
        from lendshield.ops import jobs as ops_jobs
        from lendshield.ops.queue import enqueue

        if not identity.is_file():
            raise InvalidInput(f"no identity file at {identity.name}")
        rt = context.runtime()
        payload = {
            "identity": str(identity.resolve()),
            "backup_dir": str(backups) if backups else None,
            "report_dir": str(report_dir) if report_dir else None,
            "every_s": every_days * ops_jobs.DAY,
        }
        with rt.sessions() as session:
            job_id = enqueue(session, "ops.restore_drill", payload, now=rt.clock.now(), unique_key="chain:ops.restore_drill")
            session.commit()
        typer.echo("drills are already scheduled" if job_id is None else f"scheduled drills every {every_days:g} days (job {job_id})")

    @app.command("drill-status")
    def drill_status() -> None:
        """When the last good restore drill finished; exit 1 when it is older than drill_max_age_days."""
        from lendshield.ledger.entry import rfc3339
        from lendshield.ops.jobs import drill_overdue, in_service_since

        rt = context.runtime()
        overdue, last = drill_overdue(rt, rt.clock.now())
        since = in_service_since(rt) if last is None else None
        when = rfc3339(last) if last else "never" + (f" (in service since {rfc3339(since)})" if since else "")
        typer.echo(f"last good drill: {when}; allowed age {rt.settings.drill_max_age_days} days: {'OVERDUE' if overdue else 'ok'}")
        if overdue:
            raise typer.Exit(1)

    @keys.command("backup-keys")
    def backup_keys(
        recipient: str = typer.Option(..., "--recipient", help="age recipient of the KEY custodian (not the data backups' key)."),
        out: Path = typer.Option(..., "--out", help="Directory for the encrypted key file: not the data backup directory."),
    ) -> None:
        """Back up the local key file, encrypted to a separate custodian and never beside the data backups."""
        from lendshield.ops.backup import backup_key_material
        from lendshield.principals import SYSTEM

        typer.echo(str(backup_key_material(context.runtime(), out, recipient, SYSTEM)))

    @app.command("restore-drill")
    def restore_drill(
        backup_file: Path = typer.Argument(..., exists=False, help="The backup file."),
        identity: Path = typer.Option(..., "--identity", help="The backup identity file."),
        report_dir: Path = typer.Option(
            None, "--report-dir", help="Where to write the JSON and HTML report (default: settings drill_report_dir)."
        ),
        sample: int = typer.Option(25, min=1, max=10_000, help="Subjects whose fields are decrypted."),
    ) -> None:
        """Restore a backup into a scratch database and prove it is good; exit 1 if it is not."""
        from lendshield.ops.drill import restore_drill as run
        from lendshield.principals import SYSTEM

        if not backup_file.is_file():
            raise InvalidInput(f"no backup file at {backup_file.name}")
        rt = context.runtime()
        report = run(rt, backup_file, identity, SYSTEM, sample=sample, report_dir=report_dir or rt.settings.resolved_drill_report_dir())
        for check in report.checks:
            typer.echo(f"{'pass' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not report.ok:
            raise typer.Exit(1)


def register_report(app: typer.Typer) -> None:
    """`lendshield report`: the compliance report from the command line (as the platform, in the officer's role)."""

    @app.command("report")
    def report(
        out: Path = typer.Argument(..., help="Where to write the report."),
        fmt: str = typer.Option("pdf", "--format", help="pdf, html or json."),
        start: str = typer.Option("", help="First day (YYYY-MM-DD); default 1 January."),
        end: str = typer.Option("", help="Last day (YYYY-MM-DD); default today."),
    ) -> None:
        """Generate, store (kept 3 years, PIPL Art. 56) and log a compliance report, and write it to OUT."""
        import datetime as dt
        import json

        from lendshield.ops import reports, reports_pdf
        from lendshield.principals import Principal

        if fmt not in ("pdf", "html", "json"):
            raise InvalidInput("--format must be pdf, html or json")
        try:
            first = dt.date.fromisoformat(start) if start else None
            last = dt.date.fromisoformat(end) if end else None
        except ValueError as exc:
            raise InvalidInput("--start and --end are dates, YYYY-MM-DD") from exc
        rt = context.runtime()
        who = Principal(id="system", name="system", kind="service", roles=frozenset({"protection_officer"}))
        with rt.sessions() as session:
            made = reports.compliance_report(session, rt, who, start=first, end=last)
            session.commit()
        if fmt == "pdf":
            out.write_bytes(reports_pdf.to_pdf(made))
        elif fmt == "html":
            out.write_text(reports.to_html(made), encoding="utf-8")
        else:
            out.write_text(json.dumps(made, ensure_ascii=False, indent=2), encoding="utf-8")
        typer.echo(f"wrote {out} ({fmt}, {made['period']['start']} to {made['period']['end']})")
