"""The multi-pattern pass: hyperscan where the platform has it, Python ``re`` everywhere.

An engine yields, for each pattern, the value spans of the non-overlapping matches a
left-to-right Python ``finditer`` would find. The ``re`` engine runs each pattern in turn. The
hyperscan engine scans once for all patterns, then settles each candidate the cheapest way that
gives the same answer:

- an *exact* pattern (an ASCII digit run between boundaries) is its own match: hyperscan's
  start and end are the span;
- an *anchored* pattern (one that begins with a literal set: a context word, a place name)
  is tried with ``re.match`` where its anchor starts, in order;
- any other pattern is searched for with ``re.search`` from ``end - max_len`` for each end
  hyperscan reports past the previous match: no match is longer, and an earlier match would
  have ended earlier and been taken first.

Both engines report identical spans (a test compares them on a generated corpus).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any, Protocol

from lendshield.dlp.errors import EngineUnavailable
from lendshield.dlp.patterns import PatternSpec, hyperscan_source, pattern_specs, python_pattern

Candidate = tuple[int, int, int]  # (index into pattern_specs(), value start, value end)
_PLAIN, _ANCHORED, _EXACT = 0, 1, 2


class Engine(Protocol):
    name: str

    def candidates(self, text: str, utf8: bytes | None = None) -> Iterator[Candidate]:
        """Value spans in ``text``; ``utf8`` is its UTF-8 encoding when the caller has it."""
        ...


def _value_span(match: re.Match[str], grouped: bool) -> tuple[int, int]:
    return match.span("v") if grouped else match.span()


class ReEngine:
    """One Python ``re`` pass per pattern: no native dependency."""

    name = "re"

    def __init__(self, specs: tuple[PatternSpec, ...]) -> None:
        self._patterns = [python_pattern(s) for s in specs]
        self._grouped = ["(?P<v>" in s.source for s in specs]

    def candidates(self, text: str, utf8: bytes | None = None) -> Iterator[Candidate]:
        for index, pattern in enumerate(self._patterns):
            grouped = self._grouped[index]
            for match in pattern.finditer(text):
                start, end = _value_span(match, grouped)
                yield index, start, end


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True


def _mode(spec: PatternSpec) -> int:
    return _EXACT if spec.exact else _ANCHORED if spec.anchor else _PLAIN


@cache
def _hyperscan_database(specs: tuple[PatternSpec, ...]) -> Any:
    import hyperscan

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    # Start-of-match tracking only where the start is used (exact patterns and anchors): it
    # costs, and hyperscan refuses it for the larger patterns.
    db.compile(
        expressions=[hyperscan_source(s) for s in specs],
        ids=list(range(len(specs))),
        elements=len(specs),
        flags=[hyperscan.HS_FLAG_UTF8 | (hyperscan.HS_FLAG_SOM_LEFTMOST if _mode(s) != _PLAIN else 0) for s in specs],
    )
    return db


class HyperscanEngine:
    """One hyperscan pass over the UTF-8 bytes for every pattern at once."""

    name = "hyperscan"

    def __init__(self, specs: tuple[PatternSpec, ...]) -> None:
        if not hyperscan_available():
            raise EngineUnavailable("hyperscan is not installed on this platform; use --engine re")
        self._db = _hyperscan_database(specs)
        self._patterns = [python_pattern(s) for s in specs]
        self._grouped = ["(?P<v>" in s.source for s in specs]
        self._max_len = [s.max_len for s in specs]
        self._modes = [_mode(s) for s in specs]
        self._count = len(specs)
        assert all(s.max_len < 256 for s in specs if s.exact)  # lengths are packed in 8 bits

    def candidates(self, text: str, utf8: bytes | None = None) -> Iterator[Candidate]:
        data = utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")
        hits: list[int] = []
        shift = self._count.bit_length()
        append = hits.append
        modes = self._modes

        def on_match(index: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            mode = modes[index]
            if mode == _EXACT:
                append(((start << 8 | (end - start)) << shift) | index)
            elif mode == _ANCHORED:
                append((start << 8) << shift | index)
            else:
                append((end << 8) << shift | index)

        self._db.scan(data, match_event_handler=on_match)
        if not hits:
            return
        hits.sort()
        ascii_only = len(data) == len(text)
        index_mask = (1 << shift) - 1
        per_pattern: list[list[tuple[int, int]]] = [[] for _ in range(self._count)]
        byte_pos = char_pos = 0
        view = memoryview(data)
        for packed in hits:
            index = packed & index_mask
            offset = packed >> (shift + 8)
            length = (packed >> shift) & 0xFF
            if not ascii_only and offset != byte_pos:
                char_pos += len(str(view[byte_pos:offset], "utf-8"))
                byte_pos = offset
            # Exact patterns are ASCII: their length in bytes is their length in characters.
            per_pattern[index].append((offset if ascii_only else char_pos, length))
        for index, offsets in enumerate(per_pattern):
            if not offsets:
                continue
            mode = self._modes[index]
            if mode == _EXACT:
                yield from self._exact(index, offsets)
            elif mode == _ANCHORED:
                yield from self._anchored(index, offsets, text)
            else:
                yield from self._searched(index, offsets, text)

    @staticmethod
    def _exact(index: int, offsets: list[tuple[int, int]]) -> Iterator[Candidate]:
        # Sorted by start, then length: of matches at one start the longest (greedy) is taken.
        resume = 0
        count = len(offsets)
        for i, (start, length) in enumerate(offsets):
            if start < resume or (i + 1 < count and offsets[i + 1][0] == start):
                continue
            resume = start + length
            yield index, start, resume

    def _anchored(self, index: int, offsets: list[tuple[int, int]], text: str) -> Iterator[Candidate]:
        pattern = self._patterns[index]
        grouped = self._grouped[index]
        resume = 0
        last = -1
        for start, _ in offsets:
            if start < resume or start == last:
                continue
            last = start
            match = pattern.match(text, start)
            if match is not None:
                resume = match.end() if match.end() > start else start + 1
                v_start, v_end = _value_span(match, grouped)
                yield index, v_start, v_end

    def _searched(self, index: int, offsets: list[tuple[int, int]], text: str) -> Iterator[Candidate]:
        pattern = self._patterns[index]
        grouped = self._grouped[index]
        max_len = self._max_len[index]
        resume = 0
        for end, _ in offsets:
            if end <= resume:
                continue
            match = pattern.search(text, max(resume, end - max_len))
            if match is None:  # the hyperscan form is a superset (a lookahead became a match)
                resume = end
                continue
            resume = match.end() if match.end() > match.start() else match.start() + 1
            v_start, v_end = _value_span(match, grouped)
            yield index, v_start, v_end


def make_engine(name: str = "auto") -> Engine:
    """``auto`` picks hyperscan when it is installed, else ``re``."""
    specs = pattern_specs()
    if name == "re" or (name == "auto" and not hyperscan_available()):
        return ReEngine(specs)
    if name in ("hyperscan", "auto"):
        return HyperscanEngine(specs)
    raise EngineUnavailable(f"unknown scan engine {name!r} (auto, hyperscan or re)")
