"""``lendshield redact``: a copy of a file with its personal data replaced, in the same format.

Modes: ``mask`` (the display mask), ``replace`` (a type label), ``hash`` (HMAC-SHA256 of the
canonical value under a secret derived from the key provider, so the same person gives the same
mark across files without the value being recoverable), ``token`` (the vault token of the
subject the value belongs to, found through the blind index and the gate; values that belong to
no subject in the vault have no token and get the type label, and are counted).
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from lendshield.dlp import sources
from lendshield.dlp.config import DlpConfig
from lendshield.dlp.errors import RedactionFailed
from lendshield.dlp.masking import mask_value
from lendshield.dlp.patterns import MAX_MATCH_CHARS
from lendshield.dlp.scanner import Finding, Scanner
from lendshield.errors import LendShieldError

if TYPE_CHECKING:
    from lendshield.runtime import Runtime

Mode = Literal["mask", "replace", "hash", "token"]
MODES: tuple[Mode, ...] = ("mask", "replace", "hash", "token")
HASH_SECRET = "dlp/redaction-hash"
# Fields of the vault with a blind index that a finding's canonical value can be looked up in.
VAULT_FIELDS = {"resident_id": "resident_id", "mobile": "mobile"}


@dataclass(slots=True)
class RedactStats:
    values: int = 0
    not_in_vault: int = 0
    problems: list[str] = field(default_factory=list)


Replace = Callable[[Finding], str]


def label(f: Finding) -> str:
    return f"[{f.type.upper()}]"


def masker(f: Finding) -> str:
    return mask_value(f.type, f.normalized)


def hasher(secret: bytes) -> Replace:
    from lendshield.crypto import keyed_digest

    def replace(f: Finding) -> str:
        # 80 bits: joins across files stay exact in practice; the value cannot be recovered.
        return f"[{f.type}:{keyed_digest(secret, 'dlp-redact/v1', f.type, f.normalized).hex()[:20]}]"

    return replace


def redact_text(text: str, findings: list[Finding], replace: Replace) -> str:
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:
            continue
        out.append(text[pos : f.start])
        out.append(replace(f))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def redact_text_stream(source: IO[str], target: IO[str], scanner: Scanner, replace: Replace, stats: RedactStats) -> None:
    """Window by window, like scanning; the cut is moved past any value it would split."""
    chunk = scanner.config.chunk_chars
    carry = ""
    own_from = 0
    while True:
        piece = source.read(chunk)
        final = piece == ""
        window = carry + piece
        if not window:
            return
        findings = sorted(scanner.scan(window), key=lambda f: f.start)
        cut = len(window) if final else max(own_from, len(window) - MAX_MATCH_CHARS)
        for f in findings:
            if f.start < cut < f.end:
                cut = f.end
        pos = own_from
        for f in findings:
            if f.start < own_from:
                continue
            if f.start >= cut:
                break
            target.write(window[pos : f.start])
            target.write(replace(f))
            stats.values += 1
            pos = f.end
        target.write(window[pos:cut])
        if final:
            return
        keep_from = max(0, cut - MAX_MATCH_CHARS)
        carry = window[keep_from:]
        own_from = cut - keep_from


def _redact_cells(cells: list[str], contexts: list[str], scanner: Scanner, replace: Replace, stats: RedactStats) -> list[str]:
    out = []
    for cell, found in zip(cells, scanner.scan_cells(cells, contexts), strict=True):
        stats.values += len(found)
        out.append(redact_text(cell, found, replace) if found else cell)
    return out


def redact_csv(
    source: IO[str], target: IO[str], delimiter: str, line_end: str, scanner: Scanner, replace: Replace, stats: RedactStats
) -> None:
    """Same columns, same delimiter, one output row per input row; cells quoted only where needed."""
    csv.field_size_limit(scanner.config.max_line_chars)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    writer = csv.writer(target, delimiter=delimiter, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    header: list[str] | None = None
    rows: list[list[str]] = []
    size = 0

    def flush() -> None:
        cells = [c for row in rows for c in row]
        contexts = [header[j] if header and j < len(header) else "" for row in rows for j in range(len(row))]
        redacted = iter(_redact_cells(cells, contexts, scanner, replace, stats))
        writer.writerows([[next(redacted) for _ in row] for row in rows])

    try:
        for row in reader:
            if header is None:
                header = row
                writer.writerow(_redact_cells(row, [""] * len(row), scanner, replace, stats))
                continue
            rows.append(row)
            size += sum(len(c) for c in row)
            if size >= 1_048_576:
                flush()
                rows, size = [], 0
    except csv.Error as exc:
        raise RedactionFailed(f"malformed CSV at line {reader.line_num}: {exc}; use --as text to redact it as text") from exc
    flush()


def _json_strings(value: Any, key: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        out.append((value, key))
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000_000:
        out.append((str(value), key))
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append((str(k), ""))
            _json_strings(v, str(k), out)
    elif isinstance(value, list):
        for v in value:
            _json_strings(v, key, out)


def _json_rebuild(value: Any, replaced: Iterator[str]) -> Any:
    if isinstance(value, str):
        return next(replaced)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000_000:
        text = next(replaced)
        return value if text == str(value) else text  # a number that was personal data becomes its mark
    if isinstance(value, dict):
        rebuilt: dict[str, Any] = {}
        for _k, v in value.items():
            new_key = next(replaced)
            rebuilt[new_key] = _json_rebuild(v, replaced)
        return rebuilt
    if isinstance(value, list):
        return [_json_rebuild(v, replaced) for v in value]
    return value


def redact_json_value(value: Any, scanner: Scanner, replace: Replace, stats: RedactStats) -> Any:
    found: list[tuple[str, str]] = []
    _json_strings(value, "", found)
    if not found:
        return value
    redacted = _redact_cells([t for t, _ in found], [k for _, k in found], scanner, replace, stats)
    return _json_rebuild(value, iter(redacted))


def redact_json(source: IO[str], target: IO[str], scanner: Scanner, replace: Replace, stats: RedactStats) -> None:
    text = source.read(scanner.config.max_document_bytes + 1)
    if len(text) > scanner.config.max_document_bytes:
        raise RedactionFailed("JSON document larger than max_document_bytes; use --as text to redact it as text")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RedactionFailed(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; use --as text") from exc
    indent = 2 if "\n" in text.strip() else None
    target.write(json.dumps(redact_json_value(document, scanner, replace, stats), ensure_ascii=False, indent=indent))
    target.write("\n")


def redact_jsonl(source: IO[str], target: IO[str], scanner: Scanner, replace: Replace, stats: RedactStats) -> None:
    bad = 0
    for line in source:
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if not body.strip():
            target.write(line)
            continue
        try:
            value = json.loads(body)
        except json.JSONDecodeError:
            bad += 1
            found = scanner.scan(body)
            stats.values += len(found)
            target.write(redact_text(body, found, replace) + ending)
            continue
        target.write(json.dumps(redact_json_value(value, scanner, replace, stats), ensure_ascii=False) + ending)
    if bad:
        stats.problems.append(f"{bad} lines are not JSON; they were redacted as text")


def _cell_text(value: object) -> str | None:
    if isinstance(value, str):
        return None if value.startswith("=") else value  # a formula is left alone
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e20:
        return str(int(value))
    return None


def redact_xlsx(source: Path, target: Path, scanner: Scanner, replace: Replace, stats: RedactStats) -> None:
    """Every sheet, every cell; the workbook's other parts (styles, formulas) are kept."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(source)
    except Exception as exc:  # broken zip, missing parts, bad XML: all mean "not a workbook" here
        raise RedactionFailed(f"not a readable XLSX workbook ({type(exc).__name__})") from exc
    for sheet in workbook.worksheets:
        header: list[str] = []
        for r, row in enumerate(sheet.iter_rows(), start=1):
            texts = [_cell_text(c.value) for c in row]
            if r == 1:
                header = [t or "" for t in texts]
            cells = [(c, t, header[j] if r > 1 and j < len(header) else "") for j, (c, t) in enumerate(zip(row, texts, strict=True)) if t]
            if not cells:
                continue
            redacted = _redact_cells([t for _, t, _ in cells], [h for _, _, h in cells], scanner, replace, stats)
            for (cell, original, _), new in zip(cells, redacted, strict=True):
                if new != original:
                    cell.value = new
    workbook.save(target)


@contextmanager
def _atomic_output(target: str) -> Iterator[Path | None]:
    """A temporary file beside the target, renamed over it only when redaction succeeded."""
    if target == "-":
        yield None
        return
    final = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=".redact-", dir=final.parent if str(final.parent) else ".")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _line_ending(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(65536)
    return "\r\n" if b"\r\n" in head else "\n"


def redact_path(
    source: str,
    target: str,
    *,
    mode: Mode,
    kind: sources.InputKind | None,
    config: DlpConfig,
    engine: str = "auto",
    purpose: str | None = None,
    principal: str | None = None,
    runtime: Runtime | None = None,
) -> RedactStats:
    """Redact ``source`` into ``target`` (``-`` for standard input / output)."""
    if source != "-" and target != "-" and Path(target).resolve() == Path(source).resolve():
        raise RedactionFailed("OUT must not be IN: the original is never overwritten in place")
    if source != "-" and not Path(source).is_file():
        raise RedactionFailed("IN is not a readable file")
    if source != "-" and target != "-" and not Path(target).parent.is_dir():
        raise RedactionFailed("the directory of OUT does not exist")
    in_kind = kind or (sources.kind_of(Path(source)) if source != "-" else "text")
    if in_kind == "xlsx" and "-" in (source, target):
        raise RedactionFailed("XLSX is redacted from a file into a file, not through a pipe")
    scanner = Scanner(config, engine=engine)
    stats = RedactStats()
    with _replacer(mode, stats, purpose, principal, runtime) as replace:
        try:
            with _atomic_output(target) as tmp:
                if in_kind == "xlsx":
                    assert tmp is not None
                    redact_xlsx(Path(source), tmp, scanner, replace, stats)
                    return stats
                _redact_stream(source, tmp, in_kind, scanner, replace, stats)
        except OSError as exc:
            raise RedactionFailed(f"cannot read or write: {exc.strerror or type(exc).__name__}") from exc
    return stats


def _redact_stream(source: str, tmp: Path | None, kind: sources.InputKind, scanner: Scanner, replace: Replace, stats: RedactStats) -> None:
    binary_in: IO[bytes] = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115 - closed below
    try:
        head = getattr(binary_in, "peek", lambda _n: b"")(8192)[:8192]
        if b"\x00" in head:
            raise RedactionFailed("binary content (NUL bytes): not redacted")
        sources.reset_bad_bytes()
        reader = sources.open_text(binary_in)
        out_binary: IO[bytes] = sys.stdout.buffer if tmp is None else open(tmp, "wb")  # noqa: SIM115 - closed below
        writer = io.TextIOWrapper(out_binary, encoding="utf-8", newline="")
        try:
            if kind in ("csv", "tsv"):
                ending = _line_ending(Path(source)) if source != "-" else "\n"
                redact_csv(reader, writer, "," if kind == "csv" else "\t", ending, scanner, replace, stats)
            elif kind == "json":
                redact_json(reader, writer, scanner, replace, stats)
            elif kind == "jsonl":
                redact_jsonl(reader, writer, scanner, replace, stats)
            else:
                redact_text_stream(reader, writer, scanner, replace, stats)
            writer.flush()
        finally:
            if tmp is None:
                writer.detach()
            else:
                writer.close()
            reader.detach()
        if sources.bad_bytes():
            stats.problems.append(f"{sources.bad_bytes()} bytes were not valid UTF-8 and were replaced")
    finally:
        if source != "-":
            binary_in.close()


@contextmanager
def _replacer(mode: Mode, stats: RedactStats, purpose: str | None, principal: str | None, runtime: Runtime | None) -> Iterator[Replace]:
    if mode == "mask":
        yield masker
        return
    if mode == "replace":
        yield label
        return
    rt = runtime or _cli_runtime()
    if mode == "hash":
        yield hasher(rt.keys.secret(HASH_SECRET))
        return
    with _vault_tokens(rt, stats, purpose, principal) as replace:
        yield replace


def _cli_runtime() -> Runtime:
    from lendshield.cli import context

    return context.runtime()


@contextmanager
def _vault_tokens(rt: Runtime, stats: RedactStats, purpose: str | None, principal: str | None) -> Iterator[Replace]:
    """Tokens through the gate: every look-up and tokenisation is decided and written to the ledger."""
    from sqlalchemy import select

    from lendshield.principals import service as principals
    from lendshield.principals.models import PrincipalRow
    from lendshield.subjects import service as subjects

    if not principal or not purpose:
        raise RedactionFailed("token mode needs --as-principal NAME and --purpose P: vault look-ups are made as someone, for a purpose")
    session = rt.sessions()
    try:
        pid = session.scalar(select(PrincipalRow.id).where(PrincipalRow.name == principal))
        if pid is None:
            raise RedactionFailed("--as-principal: no such principal")
        who = principals.get_principal(session, pid)
        cache: dict[tuple[str, str], str] = {}

        def replace(f: Finding) -> str:
            field_name = VAULT_FIELDS.get(f.type)
            if field_name is None:
                stats.not_in_vault += 1
                return label(f)
            key = (field_name, f.normalized)
            if key not in cache:
                ids = subjects.find_by(session, rt, who, field_name, f.normalized, purpose=purpose)
                if len(ids) == 1:
                    cache[key] = subjects.tokenize(session, rt, who, ids[0], field_name, purpose=purpose)
                else:
                    cache[key] = label(f)
            token = cache[key]
            if not token.startswith("tok_"):
                stats.not_in_vault += 1
            return token

        yield replace
        session.commit()  # the look-ups, tokens and their ledger entries, together
    except LendShieldError as exc:
        # A refused look-up is itself on the record (a RecordedRefusal): keep its ledger entry.
        if getattr(exc, "keep_effects", False):
            session.commit()
        else:
            session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    if stats.not_in_vault:
        stats.problems.append(f"{stats.not_in_vault} values belong to no subject in the vault and were replaced by their type")
