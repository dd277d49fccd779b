"""One large text file across several processes: byte ranges cut at line ends, merged in order.

A multi-gigabyte log is usually one file, so ``--jobs`` also splits a plain-text file larger
than ``SPLIT_BYTES`` into ranges that start just after a newline. Each range is scanned on its
own (a value never spans a line end, and every window still overlaps the next within a range);
the parent adds the newlines of the ranges before each one to its line numbers, so the merged
result is the one a single process gives.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from lendshield.dlp import sources
from lendshield.dlp.config import PiiType
from lendshield.dlp.scanner import Scanner
from lendshield.dlp.sources import Located

SPLIT_BYTES = 64 * 1024 * 1024  # smaller files go to one process whole
_MIN_RANGE = 8 * 1024 * 1024


CANARY_KINDS: frozenset[PiiType] = frozenset({"resident_id", "mobile", "bank_card"})


@dataclass(slots=True)
class Collector:
    """Keeps the findings asked for, up to a limit (the rest counted), and canary-checkable values."""

    limit: int
    wanted: frozenset[PiiType] | None = None
    collect_hits: bool = False
    findings: list[Located] = field(default_factory=list)
    omitted: int = 0
    hits: set[tuple[str, str]] = field(default_factory=set)

    def __call__(self, batch: list[Located]) -> None:
        if self.wanted is None and not self.collect_hits:
            room = self.limit - len(self.findings)
            if len(batch) <= room:  # the common case: everything is kept, nothing to look at
                self.findings.extend(batch)
                return
        for item in batch:
            f = item.finding
            if self.wanted is not None and f.type not in self.wanted:
                continue
            if self.collect_hits and f.type in CANARY_KINDS:
                self.hits.add((f.type, f.normalized))
            if len(self.findings) < self.limit:
                self.findings.append(item)
            else:
                self.omitted += 1


@dataclass(slots=True)
class RangeResult:
    collected: Collector
    newlines: int = 0
    bad_bytes: int = 0
    size: int = 0


class _Window(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file, counting the newlines that pass."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        self._file = path.open("rb")
        self._file.seek(start)
        self._left = end - start
        self.newlines = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        data = self._file.read(min(len(buffer), self._left))
        n = len(data)
        buffer[:n] = data
        self._left -= n
        self.newlines += data.count(b"\n")
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def split_points(path: Path, size: int, parts: int, min_range: int = _MIN_RANGE) -> list[tuple[int, int]]:
    """Up to ``parts`` ranges of at least ``min_range`` bytes covering the file, each after the
    first starting just past a newline."""
    parts = max(1, min(parts, size // max(1, min_range)))
    cuts = [0]
    with path.open("rb") as f:
        for i in range(1, parts):
            f.seek(size * i // parts)
            f.readline()  # to the end of the line the cut fell in
            position = f.tell()
            if cuts[-1] < position < size:
                cuts.append(position)
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def scan_range(path: Path, start: int, end: int, scanner: Scanner, collector: Collector) -> RangeResult:
    """Findings of one range, with line numbers counted from the range's first line."""
    result = RangeResult(collector, size=end - start)
    raw = _Window(path, start, end)
    sources.reset_bad_bytes()
    # Only the first range may begin with a byte-order mark; utf-8-sig drops it there.
    stream = sources.open_text(io.BufferedReader(raw, 1 << 20))
    try:
        sources.scan_text_stream(stream, scanner, collector)
    finally:
        stream.close()
    result.newlines = raw.newlines
    result.bad_bytes = sources.bad_bytes()
    return result
