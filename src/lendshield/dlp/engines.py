"""The multi-pattern pass: hyperscan where the platform has it, Python ``re`` everywhere.

An engine yields, for each pattern, the non-overlapping matches a left-to-right Python scan
would find. The ``re`` engine runs each pattern in turn; the hyperscan engine scans once for
all patterns at several hundred MB/s, then confirms each candidate start with the Python pattern,
so both report identical matches (a test compares them on a generated corpus).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any, Protocol

from lendshield.dlp.errors import EngineUnavailable
from lendshield.dlp.patterns import PatternSpec, hyperscan_source, pattern_specs, python_pattern

Candidate = tuple[int, re.Match[str]]  # (index into pattern_specs(), match)


class Engine(Protocol):
    name: str

    def candidates(self, text: str) -> Iterator[Candidate]: ...


class ReEngine:
    """One Python ``re`` pass per pattern: no native dependency."""

    name = "re"

    def __init__(self, specs: tuple[PatternSpec, ...]) -> None:
        self._patterns = [python_pattern(s) for s in specs]

    def candidates(self, text: str) -> Iterator[Candidate]:
        for index, pattern in enumerate(self._patterns):
            for match in pattern.finditer(text):
                yield index, match


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def _hyperscan_database(specs: tuple[PatternSpec, ...]) -> Any:
    import hyperscan

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    # No start-of-match tracking: it is costly and refuses the larger patterns (gazetteer,
    # surnames). An end offset and the pattern's longest length are enough to find the start.
    db.compile(
        expressions=[hyperscan_source(s) for s in specs],
        ids=list(range(len(specs))),
        elements=len(specs),
        flags=[hyperscan.HS_FLAG_UTF8] * len(specs),
    )
    return db


class HyperscanEngine:
    """One hyperscan pass over the UTF-8 bytes for every pattern at once.

    Hyperscan reports where matches end. For each end not inside the previous match, the Python
    pattern searches from ``end - max_len`` (no match is longer): it finds the leftmost match a
    plain left-to-right ``finditer`` would, because any earlier match would have ended earlier
    and been taken first.
    """

    name = "hyperscan"

    def __init__(self, specs: tuple[PatternSpec, ...]) -> None:
        if not hyperscan_available():
            raise EngineUnavailable("hyperscan is not installed on this platform; use --engine re")
        self._db = _hyperscan_database(specs)
        self._patterns = [python_pattern(s) for s in specs]
        self._max_len = [s.max_len for s in specs]
        self._count = len(specs)

    def candidates(self, text: str) -> Iterator[Candidate]:
        data = text.encode("utf-8")
        hits: list[int] = []
        shift = self._count.bit_length()
        append = hits.append

        def on_match(index: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            append(end << shift | index)

        self._db.scan(data, match_event_handler=on_match)
        if not hits:
            return
        hits.sort()
        ascii_only = len(data) == len(text)
        mask = (1 << shift) - 1
        per_pattern: list[list[int]] = [[] for _ in range(self._count)]
        byte_pos = char_pos = 0
        view = memoryview(data)
        for packed in hits:
            end = packed >> shift
            if not ascii_only and end != byte_pos:
                char_pos += len(str(view[byte_pos:end], "utf-8"))
                byte_pos = end
            per_pattern[packed & mask].append(end if ascii_only else char_pos)
        for index, ends in enumerate(per_pattern):
            pattern = self._patterns[index]
            max_len = self._max_len[index]
            resume = 0
            for end in ends:
                if end <= resume:
                    continue
                match = pattern.search(text, max(resume, end - max_len))
                if match is None:  # the hyperscan form is a superset (a lookahead became a match)
                    resume = end
                    continue
                resume = match.end() if match.end() > match.start() else match.start() + 1
                yield index, match


def make_engine(name: str = "auto") -> Engine:
    """``auto`` picks hyperscan when it is installed, else ``re``."""
    specs = pattern_specs()
    if name == "re" or (name == "auto" and not hyperscan_available()):
        return ReEngine(specs)
    if name in ("hyperscan", "auto"):
        return HyperscanEngine(specs)
    raise EngineUnavailable(f"unknown scan engine {name!r} (auto, hyperscan or re)")
