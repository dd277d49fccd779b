"""CLI commands of the transfers domain: ``lendshield trace FILE`` and ``lendshield transfers ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lendshield.errors import InvalidInput
from lendshield.principals import Principal

if TYPE_CHECKING:
    from lendshield.transfers.trace import TraceReport

# The CLI runs on the server with its key file: whoever runs it acts as the protection officer,
# and the ledger entry says the trace came from the command line.
CLI_OFFICER_ID = "cli-protection-officer"


def _officer() -> Principal:
    return Principal(id=CLI_OFFICER_ID, name="command line", kind="service", roles=frozenset({"protection_officer"}))


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    transfers = typer.Typer(no_args_is_help=True, help="Recipients, cross-border volumes and exports.")
    app.add_typer(transfers, name="transfers")

    @app.command("trace")
    def trace_cmd(
        file: Path = typer.Argument(..., help="The leaked file: CSV/TSV, JSON/JSONL, XLSX or plain text."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Name the export(s) a leaked file came from: who made it, for whom, when, and the evidence."""
        from lendshield.cli import context
        from lendshield.transfers import trace
        from lendshield.transfers.schemas import TraceOut

        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {file.name}: {exc.strerror}") from exc
        rt = context.runtime()
        who = _officer()
        with rt.sessions() as session:
            report = trace.trace(session, rt, who, data, file.name)
            session.commit()
        if as_json:
            typer.echo(json.dumps(TraceOut.of(report).model_dump(mode="json"), ensure_ascii=False, indent=2))
        else:
            _print(report)
        if report.verdict == "no_match":
            raise typer.Exit(1)

    @transfers.command("recipients")
    def list_recipients(
        expiring_within: int = typer.Option(
            -1, min=-1, help="Exit 1 if a mechanism abroad expires within this many days (for a daily check)."
        ),
    ) -> None:
        """The registered recipients, each mechanism abroad with the days it has left."""
        from lendshield.cli import context
        from lendshield.transfers import gate, recipients

        rt = context.runtime()
        today = gate.legal_today(rt)
        soon = []
        with rt.sessions() as session:
            for r in recipients.list_all(session, rt, _officer()):
                line = f"{r.id}  {r.kind:<19} {r.region}  {r.name}  purposes={','.join(r.purposes)}"
                if r.mechanism_valid_until is not None:
                    left = (r.mechanism_valid_until - today).days
                    line += f"  {r.mechanism} until {r.mechanism_valid_until} ({left} days left)"
                    if expiring_within >= 0 and left <= expiring_within:
                        soon.append(r.name)
                typer.echo(line)
        if soon:
            typer.echo(f"{len(soon)} mechanism(s) expire within {expiring_within} days: renew them or provisions will be refused")
            raise typer.Exit(1)

    @transfers.command("volume")
    def volume(year: int = typer.Option(0, help="Calendar year (default: this year in China).")) -> None:
        """Distinct people provided abroad this year, and the tier of the 2024 rules that needs."""
        from lendshield.cli import context
        from lendshield.transfers import config, gate, thresholds
        from lendshield.transfers.models import VolumeRow

        rt = context.runtime()
        rules = config.load(rt.settings.policies_dir)
        when = year or gate.legal_today(rt).year
        with rt.sessions() as session:
            row = session.get(VolumeRow, when)
            people, sensitive = (row.people, row.sensitive_people) if row else (0, 0)
        tier = thresholds.required_tier(people, sensitive, rules.thresholds)
        typer.echo(f"{when}: {people} people abroad, {sensitive} with sensitive data; needs {gate.TIER_NAMES[tier]}")


def _print(report: TraceReport) -> None:
    typer.echo(f"verdict: {report.verdict} ({report.rows_matched} of {report.rows_read} rows matched an export)")
    for c in report.candidates:
        to = f"to {c.recipient_name} ({c.recipient_id})" if c.recipient_id else "staff export"
        typer.echo(
            f"- {c.kind} {c.export_id}: made by {c.made_by_name} ({c.made_by}) at {c.created_at.isoformat()}, {to}, purpose {c.purpose}"
        )
        typer.echo(
            f"  evidence: {c.rows_matched} rows, {c.values_matched} value digests, {c.canaries_matched} canaries, "
            f"{c.row_refs_matched} row references{'; pinned' if c.pinned else ''}{'; holds every matched row' if c.covers_all else ''}"
        )
