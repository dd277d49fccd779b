"""CLI commands of the watch domain: `lendshield watch ...`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from lendshield.cli import context

if TYPE_CHECKING:
    from lendshield.principals import Principal


def _officer() -> Principal:
    from lendshield.principals import Principal

    # The operator at the console acts as the platform in the protection officer's role (as
    # `consent publish-default` does); every effect is still a ledger entry by "system".
    return Principal(id="system", name="system", kind="service", roles=frozenset({"protection_officer"}))


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    watch = typer.Typer(no_args_is_help=True, help="Insider watch: canaries, misuse rules, alerts.")
    canaries_app = typer.Typer(no_args_is_help=True, help="Canary subjects planted in the vault.")
    app.add_typer(watch, name="watch")
    watch.add_typer(canaries_app, name="canaries")

    @canaries_app.command("create")
    def canaries_create(
        count: int = typer.Option(..., "--count", min=1, max=200, help="How many canary subjects."),
        label: str = typer.Option("canary", "--label", help="A label for this batch (no personal data)."),
    ) -> None:
        """Plant synthetic subjects that no legitimate work touches; any touch raises a high alert."""
        from lendshield.watch import canaries

        rt = context.runtime()
        who = _officer()
        with rt.sessions() as session:
            made = canaries.create_canaries(session, rt, who, count, label=label)
            session.commit()
        for c in made:
            typer.echo(f"{c.subject_id} {c.label}")
        typer.echo(f"created {len(made)} canaries")

    @canaries_app.command("list")
    def canaries_list() -> None:
        """List canary subjects (ids and labels; their values stay in the vault)."""
        from lendshield.watch import canaries

        rt = context.runtime()
        who = _officer()
        with rt.sessions() as session:
            found = canaries.list_canaries(session, who)
        for c in found:
            typer.echo(f"{c.subject_id} {c.label} {c.created_at:%Y-%m-%dT%H:%M:%SZ}")
        typer.echo(f"{len(found)} canaries")

    @watch.command("run")
    def run(
        follow: bool = typer.Option(False, "--follow", help="Keep running every interval_seconds (watch.yaml)."),
    ) -> None:
        """Process the ledger entries written since the last run, and raise alerts now."""
        from lendshield.watch import engine

        rt = context.runtime()
        if follow:
            try:
                result = engine.follow(rt)
            except KeyboardInterrupt:
                return
        else:
            result = engine.run(rt)
        typer.echo(f"processed {result.processed} entries, raised {result.alerts_raised} alerts, cursor at {result.cursor}")

    @watch.command("alerts")
    def alerts_list(
        status: str = typer.Option("open", "--status", help="open, acknowledged, resolved or all."),
        limit: int = typer.Option(50, "--limit", min=1, max=1000),
    ) -> None:
        """List alerts, newest first."""
        from lendshield.errors import InvalidInput
        from lendshield.watch import alerts

        if status not in ("open", "acknowledged", "resolved", "all"):
            raise InvalidInput("--status is open, acknowledged, resolved or all")
        rt = context.runtime()
        who = _officer()
        with rt.sessions() as session:
            rows = alerts.list_alerts(session, who, status=None if status == "all" else status, limit=limit)
        for r in rows:
            typer.echo(f"{r.id}\t{r.severity}\t{r.status}\t{r.rule_id}\t{r.actor}\t{r.trigger_count} entries\t{r.title}")
        typer.echo(f"{len(rows)} alerts")

    @watch.command("schedule")
    def schedule() -> None:
        """Queue the watch for `lendshield worker` (list lendshield.watch.jobs in LENDSHIELD_JOB_MODULES)."""
        from lendshield.watch import jobs

        rt = context.runtime()
        with rt.sessions() as session:
            job_id = jobs.queue_next(session, rt)
            session.commit()
        typer.echo("a watch run is already queued" if job_id is None else f"queued job {job_id}")
