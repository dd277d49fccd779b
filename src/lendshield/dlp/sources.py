"""Reading inputs for the scanner: text streams in bounded windows, and structured formats.

Every reader yields batches of findings with their location and records problems (binary
content, invalid UTF-8, malformed CSV/JSON/XLSX) without stopping: what can still be read is
scanned, as text if its structure is broken.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, Protocol

from lendshield.dlp.patterns import MAX_MATCH_CHARS
from lendshield.dlp.scanner import Finding, Scanner

InputKind = Literal["text", "csv", "tsv", "json", "jsonl", "xlsx"]
INPUT_KINDS: tuple[InputKind, ...] = ("text", "csv", "tsv", "json", "jsonl", "xlsx")
_SUFFIXES: dict[str, InputKind] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
_BATCH_CHARS = 1_048_576
_ERRORS = "lendshield-dlp-count"
_bad_bytes = [0]


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    # Invalid UTF-8 is counted (the file is reported) and replaced, so the rest is still scanned.
    assert isinstance(exc, UnicodeDecodeError)
    _bad_bytes[0] += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error(_ERRORS, _count_and_replace)


def kind_of(path: Path) -> InputKind:
    return _SUFFIXES.get(path.suffix.lower(), "text")


class Located(NamedTuple):
    """A finding with where it is: line and column for text, a field or cell for structures."""

    finding: Finding
    line: int | None
    column: int | None
    where: str | None


@dataclass(slots=True)
class Problems:
    items: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)

    def add(self, kind: str, message: str) -> None:
        self.items.append((kind, message))


Sink = Callable[[list[Located]], None]


def open_text(binary: IO[bytes]) -> io.TextIOWrapper:
    """UTF-8 (a BOM is skipped), line endings kept as they are, invalid bytes counted."""
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors=_ERRORS, newline="")


def reset_bad_bytes() -> None:
    _bad_bytes[0] = 0


def bad_bytes() -> int:
    return _bad_bytes[0]


class TextSource(Protocol):
    def read(self, size: int, /) -> str: ...


def scan_text_stream(
    stream: TextSource, scanner: Scanner, sink: Sink, *, first_line: int = 1, progress: Callable[[], None] | None = None
) -> None:
    """Scan a text stream window by window; memory holds one window, never the whole input.

    Each window repeats the end of the previous one, so a value cut by a window edge is seen
    whole in the next; a finding belongs to the window in which it starts before the cut.
    """
    chunk = scanner.config.chunk_chars
    keep = MAX_MATCH_CHARS  # left context carried into the next window (patterns look back)
    carry = ""
    own_from = 0
    line = first_line  # line number at carry[0]
    line_start = 0  # offset in the current window where that line starts (may be negative)
    while True:
        piece = stream.read(chunk)
        final = piece == ""
        window = carry + piece
        if not window:
            return
        cut = len(window) if final else max(own_from, len(window) - MAX_MATCH_CHARS)
        found = [f for f in scanner.scan(window) if own_from <= f.start < cut]
        if found:
            cur_line, cur_start, pos = line, line_start, 0
            batch: list[Located] = []
            for f in found:
                newlines = window.count("\n", pos, f.start)
                if newlines:
                    cur_line += newlines
                    cur_start = window.rfind("\n", pos, f.start) + 1
                pos = f.start
                batch.append(Located(f, cur_line, f.start - cur_start + 1, None))
            sink(batch)
        if progress is not None:
            progress()
        if final:
            return
        keep_from = max(0, cut - keep)
        newlines = window.count("\n", 0, keep_from)
        if newlines:
            line += newlines
            line_start = window.rfind("\n", 0, keep_from) + 1
        line_start -= keep_from
        carry = window[keep_from:]
        own_from = cut - keep_from


class _CellBatch:
    """Short texts (cells, JSON strings) scanned together, with their header or key as context."""

    def __init__(self, scanner: Scanner, sink: Sink) -> None:
        self.scanner, self.sink = scanner, sink
        self.cells: list[str] = []
        self.contexts: list[str] = []
        self.places: list[tuple[int | None, str]] = []
        self.size = 0

    def add(self, text: str, context: str, line: int | None, where: str) -> None:
        self.cells.append(text)
        self.contexts.append(context)
        self.places.append((line, where))
        self.size += len(text) + 1
        if self.size >= _BATCH_CHARS:
            self.flush()

    def flush(self) -> None:
        if not self.cells:
            return
        out: list[Located] = []
        for (line, where), findings in zip(self.places, self.scanner.scan_cells(self.cells, self.contexts), strict=True):
            out.extend(Located(f, line, None, where) for f in findings)
        if out:
            self.sink(out)
        self.cells, self.contexts, self.places, self.size = [], [], [], 0


def scan_csv(stream: IO[str], delimiter: str, scanner: Scanner, sink: Sink, problems: Problems) -> None:
    """Cells scanned with their column header as context; broken CSV is scanned on as text."""
    csv.field_size_limit(scanner.config.max_line_chars)
    pending: list[str] = []  # the physical lines of the row being parsed

    def lines() -> Iterator[str]:
        for physical in stream:
            pending.append(physical)
            yield physical

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    batch = _CellBatch(scanner, sink)
    header: list[str] = []
    ragged = 0
    row_number = 0
    line = 1
    try:
        for row in reader:
            pending.clear()
            row_number += 1
            if row_number == 1:
                header = row
            elif len(row) != len(header) and row:
                ragged += 1
            for j, cell in enumerate(row):
                if cell:
                    batch.add(cell, header[j] if j < len(header) and row_number > 1 else "", line, f"row {row_number}, field {j + 1}")
            line = reader.line_num + 1
    except csv.Error as exc:
        batch.flush()
        problems.add("malformed", f"malformed CSV at line {reader.line_num}: {exc}; the rest was scanned as text")
        # The broken row's lines, then whatever follows, as plain text.
        rest = _Chain(pending, stream)
        scan_text_stream(rest, scanner, sink, first_line=line)
        return
    batch.flush()
    if ragged:
        problems.add("malformed", f"{ragged} rows have a different number of fields than the header")


class _Chain(io.TextIOBase):
    """Some lines already read, then the rest of a stream, read as one text stream."""

    def __init__(self, head: list[str], tail: IO[str]) -> None:
        self._head = "".join(head)
        self._tail = tail

    def read(self, size: int | None = -1) -> str:
        if size is None or size < 0:
            out, self._head = self._head + self._tail.read(), ""
            return out
        if self._head:
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._tail.read(size)


def _key_label(key: str) -> str:
    return key if _SAFE_KEY.match(key) else "<key>"


def _walk_json(value: Any, pointer: str, key: str, add: Callable[[str, str, str], None]) -> None:
    stack: list[tuple[Any, str, str]] = [(value, pointer, key)]
    while stack:
        item, where, context = stack.pop()
        if isinstance(item, str):
            add(item, context, where or "/")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) >= 10_000_000:  # long numbers may be IDs, cards or phone numbers
                add(str(item), context, where or "/")
        elif isinstance(item, dict):
            for raw_key, v in reversed(list(item.items())):
                k = str(raw_key)
                add(k, "", f"{where}/<key>")
                stack.append((v, f"{where}/{_key_label(k)}", k))
        elif isinstance(item, list):
            stack.extend((v, f"{where}/{i}", context) for i, v in reversed(list(enumerate(item))))


def scan_json(binary: IO[bytes], size: int | None, scanner: Scanner, sink: Sink, problems: Problems) -> None:
    """A JSON document up to ``max_document_bytes`` is parsed and walked; beyond, scanned as text."""
    limit = scanner.config.max_document_bytes
    stream = open_text(binary)
    if size is None or size > limit:
        problems.add("too-large", f"JSON document larger than {limit} bytes: scanned as text, not parsed")
        scan_text_stream(stream, scanner, sink)
        return
    text = stream.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add("malformed", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}; scanned as text")
        scan_text_stream(io.StringIO(text), scanner, sink)
        return
    batch = _CellBatch(scanner, sink)
    _walk_json(document, "", "", lambda t, c, w: batch.add(t, c, None, w))
    batch.flush()


def scan_jsonl(stream: IO[str], scanner: Scanner, sink: Sink, problems: Problems) -> None:
    """One JSON value per line; a line that does not parse, or is too long, is scanned as text."""
    limit = scanner.config.max_line_chars
    batch = _CellBatch(scanner, sink)
    bad: list[int] = []
    long_lines = 0
    line_no = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            break
        line_no += 1
        if len(line) > limit and not line.endswith("\n"):
            long_lines += 1
            batch.flush()
            # Scan the over-long record piece by piece; each piece is bounded by the limit.
            while line and not line.endswith("\n"):
                _scan_piece(line, line_no, scanner, sink)
                line = stream.readline(limit + 1)
            if line:
                _scan_piece(line, line_no, scanner, sink)
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            bad.append(line_no)
            batch.add(line, "", line_no, f"line {line_no}")
            continue
        _walk_json(value, "", "", partial(_add_at_line, batch, line_no))
    batch.flush()
    if bad:
        problems.add("malformed", f"{len(bad)} lines are not JSON (first at line {bad[0]}); scanned as text")
    if long_lines:
        problems.add("too-large", f"{long_lines} lines longer than {limit} characters: scanned as text in pieces")


def _add_at_line(batch: _CellBatch, line_no: int, text: str, context: str, where: str) -> None:
    batch.add(text, context, line_no, where)


def _scan_piece(text: str, line_no: int, scanner: Scanner, sink: Sink) -> None:
    found = scanner.scan(text)
    if found:
        sink([Located(f, line_no, None, None) for f in found])


def _cell_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e20:
        return str(int(value))  # a card or ID typed into Excel as a number
    return None


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def iter_xlsx_rows(path: Path) -> Iterator[tuple[str, int, tuple[object, ...]]]:
    """(sheet title, row number, values) streamed from a workbook opened read-only."""
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            for r, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield sheet.title, r, tuple(row)
    finally:
        workbook.close()


def scan_xlsx(path: Path, scanner: Scanner, sink: Sink, problems: Problems) -> None:
    batch = _CellBatch(scanner, sink)
    headers: dict[str, list[str]] = {}
    try:
        for title, r, row in iter_xlsx_rows(path):
            if r == 1:
                headers[title] = [_cell_text(v) or "" for v in row]
            header = headers.get(title, [])
            for j, value in enumerate(row):
                text = _cell_text(value)
                if text:
                    batch.add(text, header[j] if r > 1 and j < len(header) else "", None, f"{title}!{_column_letter(j)}{r}")
    # A broken workbook fails in many ways (BadZipFile, KeyError for a missing part, openpyxl's
    # InvalidFileException, XML errors): each is the same problem for the person scanning.
    except Exception as exc:
        batch.flush()
        problems.add("malformed", f"not a readable XLSX workbook ({type(exc).__name__})")
        return
    batch.flush()
