"""CLI commands of the policy domain: check, explain, matrix."""

from __future__ import annotations

from pathlib import Path

import typer

from lendshield.cli import context


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""
    policy = typer.Typer(no_args_is_help=True, help="Purposes and access policy (policies/*.yaml).")
    app.add_typer(policy, name="policy")

    @policy.command("check")
    def check(
        policies_dir: Path = typer.Option(None, "--dir", help="Policies directory (default: settings policies_dir)."),
    ) -> None:
        """Validate purposes.yaml and policy.yaml; every error with file and line; exit 1 on any."""
        from lendshield.catalog import load_catalog
        from lendshield.policy import check_files

        where = policies_dir or context.settings().policies_dir
        catalog = load_catalog(where)
        engine, errors = check_files(where, catalog)
        for err in errors:
            typer.echo(f"error: {err}", err=True)
        if engine is None:
            raise typer.Exit(1)
        typer.echo(f"ok: {len(engine.purposes.by_id)} purposes, {engine.rule_count} rules, {len(engine.table)} table entries")

    @policy.command("explain")
    def explain(
        role: str = typer.Option(..., "--role"),
        purpose: str = typer.Option(..., "--purpose"),
        field: str = typer.Option(..., "--field"),
        clear: bool = typer.Option(True, "--clear/--masked", help="Ask for clear text (default) or a masked view."),
    ) -> None:
        """Show the decision for one role, purpose and field, and why."""
        from lendshield.catalog import load_catalog
        from lendshield.errors import InvalidInput
        from lendshield.policy import Request, load_policy
        from lendshield.principals import Principal

        where = context.settings().policies_dir
        catalog = load_catalog(where)
        engine = load_policy(where, catalog)
        if role not in catalog.roles:
            raise InvalidInput(f"unknown role '{role}'")
        spec = catalog.field(field, "--field")
        rule = engine.rule_for(role, purpose, field)
        who = Principal(id="explain", name="explain", kind="staff", roles=frozenset({role}))
        p = engine.purposes.get(purpose)
        typer.echo(f"role={role} purpose={purpose} field={field} (category {spec.category}, sensitive {spec.sensitive})")
        if p is None:
            typer.echo("decision: deny [unknown-purpose] no such purpose")
            raise typer.Exit(1)
        when = rule.when if rule is not None else frozenset()
        met = engine.decide(Request(who, spec, purpose, clear, when))
        unmet = engine.decide(Request(who, spec, purpose, clear, frozenset()))
        typer.echo(f"decision: {met.effect.value} [{met.rule_id}] {met.reason}".rstrip())
        if rule is not None:
            typer.echo(f"rule: {rule.id} (policy.yaml line {rule.line}) effect {rule.effect.value}")
        if when:
            typer.echo(f"conditions: {', '.join(sorted(when))}; when not met: {unmet.effect.value} [{unmet.rule_id}]")
        typer.echo(f"purpose: legal basis {p.legal_basis} (PIPL Art. 13), necessary {p.necessary}, retention {p.retention_days} days")
        if p.needs_consent and met.allowed:
            extra = sorted(p.separate | ({"sensitive"} if spec.sensitive else set()))
            more = f", plus separate: {', '.join(extra)}" if extra else ""
            typer.echo(f"consent: the person's consent to a notice listing this field{more}")

    @policy.command("matrix")
    def matrix(out: Path = typer.Option(Path("docs/policy-matrix.md"), "--out")) -> None:
        """Write the whole default decision table as Markdown."""
        from lendshield.catalog import load_catalog
        from lendshield.policy import load_policy
        from lendshield.policy.matrix import markdown

        where = context.settings().policies_dir
        catalog = load_catalog(where)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(markdown(load_policy(where, catalog), catalog), encoding="utf-8")
        typer.echo(str(out))
