"""CLI commands of the ledger domain."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    ledger_app = typer.Typer(no_args_is_help=True, help="The transparency ledger.")
    app.add_typer(ledger_app, name="ledger")

    @ledger_app.command("integrate")
    def integrate() -> None:
        """Add new entries to the tree and sign checkpoints until caught up."""
        from lendshield.cli import context
        from lendshield.ledger.tree import integrate_all

        signed = integrate_all(context.runtime())
        typer.echo(f"signed size {signed[-1].size}" if signed else "nothing new")

    @ledger_app.command("key")
    def key() -> None:
        """Print the log's verifier key (give it to borrowers, auditors and witnesses)."""
        from lendshield.cli import context
        from lendshield.ledger.tree import log_public_key

        typer.echo(log_public_key(context.runtime()))

    @ledger_app.command("audit")
    def audit() -> None:
        """Recompute the tree from the stored entries; exit 1 on any finding."""
        from lendshield.cli import context
        from lendshield.ledger.audit import audit as run_audit
        from lendshield.ledger.tree import log_public_key

        rt = context.runtime()
        with rt.sessions() as session:
            report = run_audit(session, log_public_key(rt))
        for finding in report.findings:
            typer.echo(f"FAIL {finding}")
        typer.echo(f"{report.entries} entries, {report.checkpoints} checkpoints, {len(report.findings)} findings")
        raise typer.Exit(0 if report.ok else 1)

    @app.command("verify")
    def verify(
        bundle: Path = typer.Argument(..., help="The bundle JSON file."),
        key: str = typer.Option(..., "--key", help="The log's verifier key, or a file holding it."),
    ) -> None:
        """Check a subject bundle offline: the checkpoint signature and every inclusion proof."""
        from lendshield.ledger.verify import verify_bundle

        log_key = Path(key).read_text().strip() if Path(key).is_file() else key
        try:
            data = json.loads(bundle.read_text())
        except (OSError, ValueError) as exc:
            typer.echo(f"FAIL bundle unreadable: {type(exc).__name__}: {exc}")
            raise typer.Exit(1) from exc
        report = verify_bundle(data, log_key)
        for failure in report.failures:
            typer.echo(f"FAIL {failure}")
        if report.ok and report.checkpoint is not None:
            typer.echo(f"OK {len(report.verified)} entries included in the signed tree of size {report.checkpoint.size}")
        raise typer.Exit(0 if report.ok else 1)

    @app.command("witness")
    def witness(
        log: str = typer.Option(..., "--log", help="Base URL of the LendShield server."),
        log_key: str = typer.Option(..., "--log-key", help="The log's verifier key."),
        key: Path = typer.Option(..., "--key", help="Witness key file (see `lendshield ledger witness-key`)."),
        state: Path = typer.Option(Path("witness-state.json"), "--state", help="Where the last cosigned checkpoint is kept."),
    ) -> None:
        """Fetch the checkpoint, check it extends the last one seen, cosign and post it back."""
        import httpx

        from lendshield.ledger.witness import Fork, WitnessKey, check_and_cosign

        base = log.rstrip("/") + "/v1/ledger"
        wkey = WitnessKey.load(key)
        old = json.loads(state.read_text()) if state.exists() else None
        with httpx.Client(timeout=10) as http:
            note_text = http.get(f"{base}/checkpoint").raise_for_status().text

            def fetch(first: int, second: int) -> list[str]:
                proof: list[str] = (
                    http.get(f"{base}/consistency", params={"first": first, "second": second}).raise_for_status().json()["proof"]
                )
                return proof

            try:
                line, new = check_and_cosign(note_text, log_key, old, fetch, wkey)
            except Fork as exc:
                typer.echo(f"!!! {exc} !!! NOT cosigned", err=True)
                raise typer.Exit(2) from exc
            http.post(f"{base}/cosignatures", json={"size": new["size"], "line": line}).raise_for_status()
        state.write_text(json.dumps(new))
        typer.echo(f"cosigned size {new['size']}")

    @ledger_app.command("witness-key")
    def witness_key(path: Path = typer.Argument(...), name: str = typer.Option(..., "--name")) -> None:
        """Create a witness key file; prints the verifier key to register in ledger_witness_keys."""
        from lendshield.ledger.witness import WitnessKey

        typer.echo(WitnessKey.create(path, name).verifier_key())
