"""CLI commands of the dlp domain: ``lendshield scan`` and ``lendshield redact``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import typer

from lendshield.dlp.errors import ScanInputInvalid

if TYPE_CHECKING:
    from collections.abc import Iterator

    from rich.console import Console

    from lendshield.dlp.config import DlpConfig, PiiType
    from lendshield.dlp.filescan import FileResult, ScanOptions
    from lendshield.dlp.report import Writer
    from lendshield.dlp.sources import InputKind

EXIT_THRESHOLD = 1  # findings reached --fail-on
EXIT_INCOMPLETE = 4  # some input could not be read or parsed completely (added to the above)


def _config(min_confidence: float | None) -> DlpConfig:
    from lendshield.cli import context
    from lendshield.dlp.config import load_config

    config = load_config(context.settings().policies_dir)
    if min_confidence is not None:
        config = config.model_copy(update={"min_confidence": min_confidence})
    return config


def _check_kind(kind: str | None) -> None:
    from lendshield.dlp.sources import INPUT_KINDS

    if kind is not None and kind not in INPUT_KINDS:
        raise ScanInputInvalid(f"--as: unknown input format (one of {', '.join(INPUT_KINDS)})")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `lendshield` app."""

    @app.command("scan")
    def scan(
        paths: list[str] = typer.Argument(..., help="Files, directory trees, or - for standard input."),
        output_format: str = typer.Option("table", "--format", "-f", help="table, jsonl or sarif."),
        output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here instead of standard output."),
        fail_on: int | None = typer.Option(None, "--fail-on", min=1, help="Exit 1 when at least this many findings are made."),
        min_confidence: float | None = typer.Option(None, "--min-confidence", min=0.0, max=1.0, help="Override dlp.yaml."),
        jobs: int = typer.Option(1, "--jobs", "-j", min=1, max=256, help="Processes scanning files in parallel."),
        engine: str = typer.Option("auto", help="auto, hyperscan or re."),
        input_kind: str | None = typer.Option(None, "--as", help="Treat every input as text, csv, tsv, json, jsonl or xlsx."),
        types: list[str] = typer.Option([], "--type", help="Report only this type (repeatable)."),
        exclude: list[str] = typer.Option([], "--exclude", help="Skip files and directories matching this glob (repeatable)."),
        show_values: bool = typer.Option(False, "--show-values", help="Print matched values in clear (default: masked)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="A progress bar when standard error is a terminal."),
        check_canaries: bool = typer.Option(False, "--check-canaries", help="Raise an alert for every canary value found."),
    ) -> None:
        """Find personal data in files. Exit 1 at --fail-on findings, +4 if an input could not be scanned fully."""
        from rich.console import Console

        from lendshield.dlp.config import PII_TYPES
        from lendshield.dlp.engines import make_engine
        from lendshield.dlp.filescan import ScanOptions, expand

        if output_format not in ("table", "jsonl", "sarif"):
            raise ScanInputInvalid("--format: one of table, jsonl, sarif")
        unknown = [t for t in types if t not in PII_TYPES]
        if unknown:
            raise ScanInputInvalid(f"--type: unknown type {unknown[0]!r} (one of {', '.join(PII_TYPES)})")
        _check_kind(input_kind)
        make_engine(engine)  # refuse an unknown or missing engine before reading anything
        config = _config(min_confidence)
        options = ScanOptions(
            config=config,
            engine=engine,
            kind=cast("InputKind | None", input_kind),  # checked by _check_kind
            types=cast("frozenset[PiiType]", frozenset(types)) or None,  # checked above
            collect_hits=check_canaries,
        )
        files = list(expand(paths, tuple(exclude)))
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        out: IO[str] = output.open("w", encoding="utf-8") if output is not None else sys.stdout
        try:
            writer = _writer(output_format, out, show_values, config)
            total = findings = incomplete = 0
            hits: list[_FileHits] = []
            for result in _with_progress(files, options, jobs, progress and err.is_terminal, err):
                total += 1
                findings += result.total
                if result.hits:
                    hits.append(_file_hits(result))
                writer.add(result)
                if result.problems:
                    incomplete += 1
                    for _kind, message in result.problems:
                        err.print(f"{result.path}: {message}", markup=False)
            writer.finish()
        finally:
            if output is not None:
                out.close()
        err.print(f"{findings} findings in {total} inputs" + (f"; {incomplete} not scanned completely" if incomplete else ""), markup=False)
        if check_canaries:
            alerts = _report_canaries(hits)
            err.print(f"canary alerts raised: {alerts}", markup=False)
        code = (EXIT_THRESHOLD if fail_on is not None and findings >= fail_on else 0) + (EXIT_INCOMPLETE if incomplete else 0)
        if code:
            raise typer.Exit(code)

    @app.command("redact")
    def redact(
        source: str = typer.Argument(..., metavar="IN", help="The file to redact, or - for standard input."),
        target: str = typer.Argument(..., metavar="OUT", help="Where to write the redacted copy, or - for standard output."),
        mode: str = typer.Option("mask", "--mode", "-m", help="mask, replace, hash (keyed HMAC) or token (vault token)."),
        input_kind: str | None = typer.Option(None, "--as", help="Treat the input as text, csv, tsv, json, jsonl or xlsx."),
        min_confidence: float | None = typer.Option(None, "--min-confidence", min=0.0, max=1.0, help="Override dlp.yaml."),
        engine: str = typer.Option("auto", help="auto, hyperscan or re."),
        purpose: str | None = typer.Option(None, help="Purpose of the vault look-ups (token mode), one the principal's role has."),
        principal: str | None = typer.Option(None, "--as-principal", help="Principal name for vault look-ups (token mode)."),
    ) -> None:
        """Copy a file with its personal data redacted, keeping its format (CSV, JSON, XLSX, text)."""
        from lendshield.dlp.redact import MODES, redact_path

        if mode not in MODES:
            raise ScanInputInvalid(f"--mode: one of {', '.join(MODES)}")
        _check_kind(input_kind)
        config = _config(min_confidence)
        stats = redact_path(
            source,
            target,
            mode=mode,  # narrowed by the check against MODES above
            kind=cast("InputKind | None", input_kind),
            config=config,
            engine=engine,
            purpose=purpose,
            principal=principal,
        )
        typer.echo(f"redacted {stats.values} values ({mode})", err=True)
        if stats.problems:
            for message in stats.problems:
                typer.echo(f"{source}: {message}", err=True)
            raise typer.Exit(EXIT_INCOMPLETE)


def _writer(fmt: str, out: IO[str], show_values: bool, config: DlpConfig) -> Writer:
    from lendshield.dlp import report

    if fmt == "jsonl":
        return report.JsonLinesWriter(out, show_values)
    if fmt == "sarif":
        return report.SarifWriter(out, show_values, config)
    return report.TableWriter(out, show_values)


def _with_progress(files: list[str], options: ScanOptions, jobs: int, show: bool, err: Console) -> Iterator[FileResult]:
    from lendshield.dlp.filescan import scan_paths

    if not show:
        yield from scan_paths(files, options, jobs=jobs)
        return
    import os

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    size = sum(os.stat(f).st_size for f in files if f != "-" and os.path.isfile(f))
    with Progress(
        TextColumn("scanning"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("scan", total=size or None)
        yield from scan_paths(files, options, jobs=jobs, progress=lambda n: bar.advance(task, n))


_FileHits = tuple[str, list[tuple[str, str]], dict[tuple[str, str], int]]
"""(path, canary-checkable values found in it, the first line each was seen on where known)."""


def _file_hits(result: FileResult) -> _FileHits:
    lines: dict[tuple[str, str], int] = {}
    for item in result.findings:  # kept findings carry lines; values over the per-file limit do not
        key = (item.finding.type, item.finding.normalized)
        if key in result.hits and item.line is not None and (key not in lines or item.line < lines[key]):
            lines[key] = item.line
    return result.path, sorted(result.hits), lines


def _report_canaries(hits: list[_FileHits]) -> int:
    """Hand each file's canary-checkable values to the watch package, all in one transaction.

    Each file is its own source, so an alert names the file (and line) its canary value was in.
    """
    from lendshield.cli import context

    try:
        from lendshield.watch import canaries
    except ImportError as exc:
        raise ScanInputInvalid("--check-canaries: the canary registry (lendshield.watch.canaries) is not installed") from exc
    report_scan_hits = getattr(canaries, "report_scan_hits", None)
    if report_scan_hits is None:
        raise ScanInputInvalid("--check-canaries: lendshield.watch.canaries has no report_scan_hits yet")
    rt = context.runtime()
    raised = 0
    with rt.sessions() as session:
        for path, values, lines in hits:
            raised += int(report_scan_hits(session, rt, values, source=path, lines=lines))
        session.commit()
    return raised
