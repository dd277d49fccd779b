"""Export files (CSV, JSON Lines, XLSX) and reading any file that comes back (for ``trace``)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from lendshield.transfers.errors import UnreadableFile

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson", "jsonl"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}
Table = tuple[Sequence[str], Sequence[Sequence[str]]]


_NUMBER = re.compile(r"^[+-]?[0-9][0-9 .]*$")


def csv_safe(value: str) -> str:
    """Defuse formula injection (OWASP "CSV Injection"): a cell a spreadsheet would run as a formula
    gets a leading apostrophe. A signed number (an E.164 phone number) is left as it is."""
    if value[:1] in ("=", "@", "\t", "\r") or (value[:1] in ("+", "-") and not _NUMBER.match(value)):
        return "'" + value
    return value


def write(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """The file's bytes. Every cell is written as text, so IDs and card numbers keep every digit."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180 line breaks
        writer.writerow(columns)
        writer.writerows([csv_safe(v) for v in row] for row in rows)
        # A BOM so that spreadsheet programs in zh-CN locales read the file as UTF-8.
        return buf.getvalue().encode("utf-8-sig")
    if fmt == "jsonl":
        lines = [json.dumps(dict(zip(columns, row, strict=True)), ensure_ascii=False) for row in rows]
        return ("\n".join(lines) + "\n").encode() if lines else b""
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("export")
        ws.append(list(columns))
        for row in rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # text, never a formula (openpyxl would run "=..." as one)
                cells.append(cell)
            ws.append(cells)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt}")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _flatten(item: Any) -> list[str]:
    """Every scalar inside a JSON value, as text."""
    if isinstance(item, dict):
        return [s for v in item.values() for s in _flatten(v)]
    if isinstance(item, list):
        return [s for v in item for s in _flatten(v)]
    if item is None or isinstance(item, bool):
        return []
    return [str(item)]


def _json_rows(doc: Any) -> Iterator[list[str]]:
    if isinstance(doc, dict):
        lists = [v for v in doc.values() if isinstance(v, list)]
        if lists:
            for items in lists:
                yield from _json_rows(items)
            return
        yield _flatten(doc)
    elif isinstance(doc, list):
        for item in doc:
            yield _flatten(item)


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    # openpyxl reports a broken package with many exception types (zip, XML, key, type errors);
    # all of them mean the same to the caller.
    except Exception as exc:
        raise UnreadableFile("the file looks like a spreadsheet but cannot be opened") from exc
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                cells = [c for c in row if c is not None]
                if cells:
                    yield [str(int(c)) if isinstance(c, float) and c.is_integer() else str(c) for c in cells]
    finally:
        wb.close()


_TOKEN_SPLIT = re.compile(r"[\s,;|\t\"'，；：、|]+")


def _text_rows(text: str) -> Iterator[list[str]]:
    for line in text.splitlines():
        cells = [t for t in _TOKEN_SPLIT.split(line) if t]
        if cells:
            yield cells


MAX_FIELD_CHARS = 131_072  # csv's own default limit; checked here because csv's limit is process-wide state


def _delimited_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        if any(len(c) > MAX_FIELD_CHARS for c in row):
            raise csv.Error(f"a field is longer than {MAX_FIELD_CHARS} characters")
        cells = [c for c in row if c.strip()]
        if cells:
            yield cells


def _guess_delimiter(text: str) -> str | None:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return None


def read_rows(data: bytes, name: str = "") -> Iterator[list[str]]:
    """The rows of a leaked file, whatever its kind: XLSX, JSON, JSON Lines, CSV/TSV, or plain text."""
    lower = name.lower()
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm")):
        yield from _xlsx_rows(data)
        return
    text = _decode(data)
    stripped = text.lstrip()
    if lower.endswith(".json") or (stripped[:1] in "[{" and not lower.endswith((".csv", ".tsv", ".txt", ".jsonl", ".ndjson"))):
        try:
            yield from _json_rows(json.loads(text))
            return
        except json.JSONDecodeError:
            pass  # perhaps JSON Lines, or text that only starts with a bracket
    if lower.endswith((".jsonl", ".ndjson")) or stripped[:1] == "{":
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                yield _flatten(json.loads(line))
            except json.JSONDecodeError:
                yield from _text_rows(line)
        return
    delimiter = "\t" if lower.endswith(".tsv") else ("," if lower.endswith(".csv") else _guess_delimiter(text))
    if delimiter is not None:
        yield from _delimited_rows(text, delimiter)
    else:
        yield from _text_rows(text)


def read_all(data: bytes, name: str, limit: int) -> list[list[str]]:
    """At most ``limit + 1`` rows of ``data``; a malformed file is one ``UnreadableFile`` error."""
    rows: list[list[str]] = []
    try:
        for row in read_rows(data, name):
            rows.append(row)
            if len(rows) > limit:
                break
    except UnreadableFile:
        raise
    except (csv.Error, RecursionError, ValueError) as exc:
        # Overlong CSV fields, JSON nested too deep, bad cell values: the file, not us.
        raise UnreadableFile("the file cannot be read as CSV, JSON or text") from exc
    except Exception as exc:  # a spreadsheet failing while its rows are read
        raise UnreadableFile("the spreadsheet cannot be read") from exc
    return rows
