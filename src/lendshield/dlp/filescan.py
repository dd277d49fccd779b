"""Scanning files and directory trees: one result per file, problems reported, never fatal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import IO

from lendshield.dlp import sources
from lendshield.dlp.config import DlpConfig, PiiType
from lendshield.dlp.ranges import SPLIT_BYTES, Collector, RangeResult, scan_range, split_points
from lendshield.dlp.scanner import Scanner
from lendshield.dlp.sources import InputKind, Located, Problems

STDIN = "-"
_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class ScanOptions:
    config: DlpConfig
    engine: str = "auto"
    kind: InputKind | None = None  # force the input format instead of guessing from the suffix
    types: frozenset[PiiType] | None = None  # report only these
    collect_hits: bool = False  # keep (type, normalized) of canary-checkable values
    split_bytes: int = SPLIT_BYTES  # with several jobs, plain-text files this large are split


@dataclass(slots=True)
class FileResult:
    path: str
    size: int | None = None
    findings: list[Located] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    omitted: int = 0  # findings over the per-file limit: counted, not kept
    hits: set[tuple[str, str]] = field(default_factory=set)

    @property
    def total(self) -> int:
        return len(self.findings) + self.omitted


def expand(paths: Iterable[str], exclude: tuple[str, ...] = ()) -> Iterator[str]:
    """Files named, and the files under directories named (sorted, symbolic links not followed)."""
    for raw in paths:
        if raw == STDIN:
            yield raw
            continue
        path = Path(raw)
        if path.is_dir() and not path.is_symlink():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not _excluded(d, exclude))
                for name in sorted(files):
                    if not _excluded(name, exclude):
                        yield os.path.join(root, name)
        else:
            yield raw


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch(name, p) for p in patterns)


def scan_file(path: str, scanner: Scanner, options: ScanOptions, progress: Callable[[int], None] | None = None) -> FileResult:
    """Scan one file (or ``-`` for standard input). Problems are recorded in the result."""
    result = FileResult(path)
    problems = Problems()
    limit = options.config.max_findings_per_file
    sink = _collector(options)

    reported = [0]

    def advance(position: int) -> None:
        if progress is not None and position > reported[0]:
            progress(position - reported[0])
            reported[0] = position

    sources.reset_bad_bytes()
    try:
        if path == STDIN:
            _scan_binary(sys.stdin.buffer, None, options.kind or "text", scanner, sink, problems, None)
        else:
            p = Path(path)
            if not p.is_file():
                problems.add("unreadable", "not a regular file" if p.exists() else "no such file")
            else:
                result.size = p.stat().st_size
                kind = options.kind or sources.kind_of(p)
                if kind == "xlsx":
                    sources.scan_xlsx(p, scanner, sink, problems)
                else:
                    with p.open("rb") as binary:
                        _scan_binary(binary, result.size, kind, scanner, sink, problems, advance)
    except OSError as exc:
        problems.add("unreadable", f"cannot read: {exc.strerror or type(exc).__name__}")
    result.findings, result.omitted, result.hits = sink.findings, sink.omitted, sink.hits
    _close(result, problems, sources.bad_bytes(), limit)
    advance(result.size or 0)
    return result


def _collector(options: ScanOptions) -> Collector:
    return Collector(options.config.max_findings_per_file, options.types, options.collect_hits)


def _close(result: FileResult, problems: Problems, bad_bytes: int, limit: int) -> None:
    if bad_bytes:
        problems.add("invalid-utf8", f"{bad_bytes} bytes are not valid UTF-8 (replaced, the rest was scanned)")
    if result.omitted:
        problems.add("truncated", f"{result.omitted} findings over the limit of {limit} per file were counted, not listed")
    result.problems = problems.items


def _scan_binary(
    binary: IO[bytes],
    size: int | None,
    kind: InputKind,
    scanner: Scanner,
    sink: sources.Sink,
    problems: Problems,
    advance: Callable[[int], None] | None,
) -> None:
    peek = getattr(binary, "peek", None)
    head: bytes = peek(_SNIFF_BYTES)[:_SNIFF_BYTES] if peek is not None else b""
    if b"\x00" in head:
        problems.add("binary", "binary content (NUL bytes): not scanned")
        return
    if kind == "json":
        sources.scan_json(binary, size, scanner, sink, problems)
        return
    stream = sources.open_text(binary)
    try:
        if kind in ("csv", "tsv"):
            sources.scan_csv(stream, "," if kind == "csv" else "\t", scanner, sink, problems)
        elif kind == "jsonl":
            sources.scan_jsonl(stream, scanner, sink, problems)
        else:
            step = (lambda: advance(binary.tell())) if advance is not None and size is not None else None
            sources.scan_text_stream(stream, scanner, sink, progress=step)
    finally:
        stream.detach()  # the caller owns (and closes) the binary stream


_worker: tuple[Scanner, ScanOptions] | None = None


def _init_worker(options: ScanOptions) -> None:
    global _worker  # noqa: PLW0603 - one scanner per worker process, built once
    _worker = (Scanner(options.config, engine=options.engine), options)


def _scan_in_worker(path: str) -> FileResult:
    assert _worker is not None
    scanner, options = _worker
    return scan_file(path, scanner, options)


def _range_in_worker(path: str, start: int, end: int) -> RangeResult:
    assert _worker is not None
    scanner, options = _worker
    return scan_range(Path(path), start, end, scanner, _collector(options))


def _splittable(path: str, options: ScanOptions) -> tuple[int, list[tuple[int, int]]] | None:
    """(size, ranges) when a file is plain text large enough to share among processes."""
    if path == STDIN or (options.kind or sources.kind_of(Path(path))) != "text":
        return None
    try:
        p = Path(path)
        size = p.stat().st_size if p.is_file() else 0
        if size < options.split_bytes:
            return None
        with p.open("rb") as f:
            if b"\x00" in f.read(_SNIFF_BYTES):
                return None  # binary: scan_file reports it
        ranges = split_points(p, size, 64, min_range=options.split_bytes // 8)
    except OSError:
        return None  # scan_file reports why
    return (size, ranges) if len(ranges) > 1 else None


def _merge(path: str, size: int, parts: list[RangeResult], options: ScanOptions) -> FileResult:
    """The ranges' findings as one file's: line numbers shifted by the newlines before each range."""
    merged = _collector(options)
    result = FileResult(path, size)
    lines_before = 0
    bad = 0
    for part in parts:
        if lines_before:
            merged([item._replace(line=item.line + lines_before) if item.line is not None else item for item in part.collected.findings])
        else:
            merged(part.collected.findings)
        merged.omitted += part.collected.omitted
        merged.hits |= part.collected.hits
        lines_before += part.newlines
        bad += part.bad_bytes
    result.findings, result.omitted, result.hits = merged.findings, merged.omitted, merged.hits
    _close(result, Problems(), bad, options.config.max_findings_per_file)
    return result


def scan_paths(
    paths: Iterable[str], options: ScanOptions, *, jobs: int = 1, progress: Callable[[int], None] | None = None
) -> Iterator[FileResult]:
    """Results in input order; with ``jobs`` > 1 files, and ranges of large text files, are
    scanned in that many processes."""
    if jobs <= 1:
        scanner = Scanner(options.config, engine=options.engine)
        for path in paths:
            yield scan_file(path, scanner, options, progress)
        return
    files = list(paths)
    if STDIN in files:
        # Standard input belongs to this process; scan it here, the rest in the pool.
        files.remove(STDIN)
        yield scan_file(STDIN, Scanner(options.config, engine=options.engine), options)
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(options,)) as pool:
        work: list[tuple[str, Future[FileResult] | None, int, list[Future[RangeResult]]]] = []
        for path in files:
            split = _splittable(path, options)
            if split is None:
                work.append((path, pool.submit(_scan_in_worker, path), 0, []))
            else:
                size, ranges = split
                work.append((path, None, size, [pool.submit(_range_in_worker, path, a, b) for a, b in ranges]))
        for path, whole, size, parts in work:
            if whole is not None:
                result = whole.result()
                if progress is not None and result.size:
                    progress(result.size)
                yield result
                continue
            done: list[RangeResult] = []
            for future in parts:
                done.append(future.result())
                if progress is not None:
                    progress(done[-1].size)
            yield _merge(path, size, done, options)
