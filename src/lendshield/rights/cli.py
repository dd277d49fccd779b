"""CLI commands of the rights domain: ``lendshield retention run`` and ``lendshield rights ...``."""

from __future__ import annotations

import datetime as dt

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    retention_app = typer.Typer(no_args_is_help=True, help="Retention sweeps (PIPL Arts. 19, 47).")
    rights_app = typer.Typer(no_args_is_help=True, help="Data-subject rights requests and their deadlines.")
    app.add_typer(retention_app, name="retention")
    app.add_typer(rights_app, name="rights")

    @retention_app.command("run")
    def run(dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done; change nothing.")) -> None:
        """Erase people no purpose needs any more (legal holds respected), drop old packages, close unverified requests."""
        from lendshield.cli import context
        from lendshield.rights.retention import sweep

        rt = context.runtime()
        with rt.sessions() as session:
            report = sweep(session, rt, dry_run=dry_run)
            if not dry_run:
                session.commit()
        verb = "would" if dry_run else "did"
        for action in report.actions:
            typer.echo(f"{action.kind:22} {action.target}  {action.reason}")
        counts = ", ".join(
            f"{k} {report.count(k)}" for k in ("erase", "keep_held", "finish_held_deletion", "drop_package", "close_unverified")
        )
        typer.echo(f"{verb}: {counts}" + ("" if dry_run else f", codes_removed {report.codes_removed}"))

    @rights_app.command("alerts")
    def list_alerts(check: bool = typer.Option(True, help="Raise deadline alerts first.")) -> None:
        """List unacknowledged alerts: deadlines near or passed, holiday years missing."""
        from lendshield.cli import context
        from lendshield.principals import Principal
        from lendshield.rights import alerts

        rt = context.runtime()
        officer = Principal(id="cli", name="cli", kind="service", roles=frozenset({"protection_officer"}))
        with rt.sessions() as session:
            if check:
                alerts.check_deadlines(session, rt)
            found = alerts.list_alerts(session, rt, officer)
            session.commit()
        for alert in found:
            typer.echo(f"{alert.created_at:%Y-%m-%d %H:%M} {alert.kind:16} {alert.request_id or '-'}  {alert.message}")
        typer.echo(f"{len(found)} alert(s)")

    @rights_app.command("deadline")
    def deadline(
        filed: str = typer.Argument(..., help="Date of receipt, YYYY-MM-DD."),
        request_type: str = typer.Option("access", "--type", help="Request type."),
        jurisdiction: str = typer.Option("", "--jurisdiction", help="Jurisdiction code (default from rights.yaml)."),
    ) -> None:
        """Show the due date for a request received on FILED (checks the holiday file)."""
        from lendshield.cli import context
        from lendshield.rights.config import rules_for
        from lendshield.rights.models import REQUEST_TYPES
        from lendshield.rights.workdays import WorkCalendar

        try:
            day = dt.date.fromisoformat(filed)
        except ValueError:
            typer.echo("error: FILED must be a date YYYY-MM-DD", err=True)
            raise typer.Exit(2) from None
        rules = rules_for(context.settings().policies_dir)
        code = jurisdiction or rules.default_jurisdiction
        if code not in rules.jurisdictions or request_type not in REQUEST_TYPES:
            typer.echo("error: unknown jurisdiction or request type", err=True)
            raise typer.Exit(2)
        j = rules.jurisdictions[code]
        result = WorkCalendar(j.calendar, rules.years).add_working_days(day, j.days_for(request_type))
        note = f"  (estimated: no official data for {', '.join(map(str, result.estimated_years))})" if result.estimated_years else ""
        typer.echo(f"{result.due.isoformat()}  {j.days_for(request_type)} working days after {day.isoformat()}{note}")
