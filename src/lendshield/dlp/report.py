"""Scan output: a table for people, JSON Lines for pipelines, SARIF 2.1.0 for code-scanning tools.

Values are masked unless the operator asks for them (``--show-values``): a scan report is
itself a file of personal data otherwise.
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import IO, Any, Protocol

from rich.console import Console
from rich.table import Table

from lendshield.dlp.config import PII_TYPES, DlpConfig
from lendshield.dlp.filescan import FileResult
from lendshield.dlp.masking import mask_value
from lendshield.dlp.scanner import VALIDATORS
from lendshield.dlp.sources import Located

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _version() -> str:
    try:
        return metadata.version("lendshield")
    except metadata.PackageNotFoundError:
        return "0"


class Writer(Protocol):
    def add(self, result: FileResult) -> None: ...

    def finish(self) -> None: ...


def shown(item: Located, show_values: bool) -> str:
    f = item.finding
    return f.value if show_values else mask_value(f.type, f.normalized)


def _location(item: Located) -> str:
    if item.where:
        return item.where
    if item.line is not None:
        return f"{item.line}:{item.column}" if item.column is not None else str(item.line)
    return ""


class TableWriter:
    def __init__(self, out: IO[str], show_values: bool) -> None:
        # A report written to a file or pipe is not cut to 80 columns.
        self.console = Console(file=out, highlight=False, width=None if out.isatty() else 220)
        self.table = Table("file", "where", "type", "value", "confidence", "validator")
        self.show_values = show_values
        self.rows = 0

    def add(self, result: FileResult) -> None:
        for item in result.findings:
            f = item.finding
            self.table.add_row(result.path, _location(item), f.type, shown(item, self.show_values), f"{f.confidence:.2f}", f.validator)
            self.rows += 1

    def finish(self) -> None:
        if self.rows:
            self.console.print(self.table)


class JsonLinesWriter:
    def __init__(self, out: IO[str], show_values: bool) -> None:
        self.out, self.show_values = out, show_values

    def add(self, result: FileResult) -> None:
        for item in result.findings:
            f = item.finding
            record = {
                "path": result.path,
                "line": item.line,
                "column": item.column,
                "where": item.where,
                "type": f.type,
                "value": shown(item, self.show_values),
                "masked": not self.show_values,
                "confidence": f.confidence,
                "context": f.context,
                "validator": f.validator,
            }
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def finish(self) -> None:
        self.out.flush()


class SarifWriter:
    """Streams results into one SARIF 2.1.0 log; problems become tool execution notifications."""

    def __init__(self, out: IO[str], show_values: bool, config: DlpConfig) -> None:
        self.out, self.show_values = out, show_values
        self.first = True
        self.notifications: list[dict[str, Any]] = []
        self.rule_index = {t: i for i, t in enumerate(PII_TYPES)}
        rules = [
            {
                "id": t,
                "name": "".join(part.capitalize() for part in t.split("_")),
                "shortDescription": {"text": config.types[t].description},
                "fullDescription": {"text": f"{config.types[t].description}; checked by {VALIDATORS[t]}."},
                "defaultConfiguration": {"level": "error"},
            }
            for t in PII_TYPES
        ]
        driver = {"name": "lendshield-scan", "version": _version(), "informationUri": "https://lendshield.dev/docs/scanner", "rules": rules}
        head = json.dumps(
            {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": []}]}, ensure_ascii=False
        )
        # Everything up to the results array is written now; results stream into it.
        self.tail_marker = '"results": []}]}'
        assert head.endswith(self.tail_marker)
        self.out.write(head[: -len(self.tail_marker)] + '"results": [')

    def add(self, result: FileResult) -> None:
        for item in result.findings:
            self._result(result.path, item)
        for kind, message in result.problems:
            self.notifications.append(
                {
                    "level": "error" if kind != "truncated" else "warning",
                    "message": {"text": f"{result.path}: {message}"},
                    "descriptor": {"id": kind},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(result.path)}}}],
                }
            )

    def _result(self, path: str, item: Located) -> None:
        f = item.finding
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(path)}}
        if item.line is not None:
            region: dict[str, int] = {"startLine": item.line}
            if item.column is not None:
                region["startColumn"] = item.column
                region["endColumn"] = item.column + (f.end - f.start)
            physical["region"] = region
        location: dict[str, Any] = {"physicalLocation": physical}
        if item.where:
            location["logicalLocations"] = [{"fullyQualifiedName": item.where, "kind": "element"}]
        record = {
            "ruleId": f.type,
            "ruleIndex": self.rule_index[f.type],
            "level": "error",
            "message": {"text": f"{f.type} {shown(item, self.show_values)} (confidence {f.confidence:.2f})"},
            "locations": [location],
            "properties": {"confidence": f.confidence, "validator": f.validator, "masked": not self.show_values},
        }
        self.out.write(("" if self.first else ",") + json.dumps(record, ensure_ascii=False))
        self.first = False

    def finish(self) -> None:
        invocation = {
            "executionSuccessful": not any(n["level"] == "error" for n in self.notifications),
            "toolExecutionNotifications": self.notifications,
        }
        self.out.write('], "invocations": ' + json.dumps([invocation], ensure_ascii=False) + "}]}\n")
        self.out.flush()


def _uri(path: str) -> str:
    if path == "-":
        return "stdin"
    return path.replace("\\", "/").replace(" ", "%20").replace("#", "%23").replace("?", "%3F")
