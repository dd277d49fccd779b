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
from lendshield.dlp.patterns import (
    PatternSpec,
    hyperscan_source,
    is_ascii_source,
    pattern_specs,
    python_pattern,
    shadow_source,
    utf16_source,
)

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


def _compile(expressions: list[bytes], ids: list[int], flags: list[int]) -> Any:
    import hyperscan

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
    return db


@cache
def _hyperscan_databases(specs: tuple[PatternSpec, ...]) -> tuple[Any, Any, Any]:
    """(every pattern on UTF-8, the ASCII patterns on the ASCII shadow, the others on UTF-16-LE).

    Start-of-match tracking only where the start is used (exact patterns and anchors): it
    costs, and hyperscan refuses it for the larger patterns.
    """
    import hyperscan

    def som(s: PatternSpec) -> int:
        return hyperscan.HS_FLAG_SOM_LEFTMOST if _mode(s) != _PLAIN else 0

    everything = _compile([hyperscan_source(s) for s in specs], list(range(len(specs))), [hyperscan.HS_FLAG_UTF8 | som(s) for s in specs])
    narrow = [i for i, s in enumerate(specs) if is_ascii_source(s)]
    wide = [i for i, s in enumerate(specs) if not is_ascii_source(s)]
    assert all(i in narrow for i, s in enumerate(specs) if s.exact)  # exact spans are taken as found
    ascii_db = _compile([shadow_source(specs[i]) for i in narrow], narrow, [som(specs[i]) for i in narrow])
    utf16_db = _compile([utf16_source(specs[i]) for i in wide], wide, [som(specs[i]) for i in wide])
    return everything, ascii_db, utf16_db


class HyperscanEngine:
    """Hyperscan over the text for every pattern at once, reporting character offsets.

    The ASCII patterns (digit runs, e-mail, IPv6) run on the ASCII *shadow* of the text, every
    other character replaced by ``?``: none of them can match a ``?`` or any non-ASCII
    character, and to ``\\b`` both are non-word characters, so they match exactly where they
    match in the text, and a byte offset there is a character offset. The patterns that need
    Chinese characters (place names, context words, plates) run on UTF-16-LE, where a character
    offset is half a byte offset (matches at odd offsets straddle characters and are dropped).
    Text with characters outside the BMP (two UTF-16 units) is scanned as UTF-8 instead, and
    byte offsets are converted by decoding.
    """

    name = "hyperscan"

    def __init__(self, specs: tuple[PatternSpec, ...]) -> None:
        if not hyperscan_available():
            raise EngineUnavailable("hyperscan is not installed on this platform; use --engine re")
        self._db, self._ascii_db, self._utf16_db = _hyperscan_databases(specs)
        self._patterns = [python_pattern(s) for s in specs]
        self._grouped = ["(?P<v>" in s.source for s in specs]
        self._max_len = [s.max_len for s in specs]
        self._modes = [_mode(s) for s in specs]
        self._count = len(specs)

    def candidates(self, text: str, utf8: bytes | None = None) -> Iterator[Candidate]:
        return iter(self.candidate_list(text, utf8))

    def candidate_list(self, text: str, utf8: bytes | None = None) -> list[Candidate]:
        hits: list[int] = []
        append = hits.append
        # One packed integer per match event, sorted once: by pattern, then start, then end
        # (plain patterns have no start tracked, so by end). No branching in the callback: it
        # runs for every event.

        def on_match(index: int, start: int, end: int, _flags: int, _context: object) -> None:
            append(index << 64 | start << 32 | end)

        wide = text.encode("utf-16-le", "surrogatepass")
        if len(wide) == 2 * len(text):
            self._ascii_db.scan(text.encode("ascii", "replace"), match_event_handler=on_match)
            odd: list[int] = []
            append = odd.append  # the callback appends through this name
            self._utf16_db.scan(wide, match_event_handler=on_match)
            # A whole number of characters: start and end are both even (a plain pattern's
            # start is not tracked and is 0).
            hits.extend((p >> 64) << 64 | (p >> 33 & 0x7FFFFFFF) << 32 | (p & 0xFFFFFFFF) >> 1 for p in odd if not p & 1)
        else:
            data = utf8 if utf8 is not None else text.encode("utf-8", "surrogatepass")
            self._db.scan(data, match_event_handler=on_match)
            if len(data) != len(text):
                hits = _to_characters(data, hits)
        if not hits:
            return []
        hits.sort()
        return self._settle(text, hits)

    def _settle(self, text: str, hits: list[int]) -> list[Candidate]:
        """The spans a left-to-right ``finditer`` of each pattern finds, from the sorted events."""
        out: list[Candidate] = []
        add = out.append
        modes = self._modes
        patterns = self._patterns
        grouped = self._grouped
        mask = 0xFFFFFFFF
        last_index = -1
        previous = -1
        resume = 0
        count = len(hits)
        mode = _EXACT
        for i in range(count):
            packed = hits[i]
            index = packed >> 64
            if index != last_index:
                last_index = index
                resume = 0
                mode = modes[index]
                pattern = patterns[index]
                group = grouped[index]
                max_len = self._max_len[index]
            if mode == _EXACT:
                # Of matches at one start the longest (greedy) is taken, then the next match
                # begins after it, as finditer would.
                start = (packed >> 32) & mask
                if start < resume or (i + 1 < count and hits[i + 1] >> 32 == packed >> 32):
                    continue
                resume = packed & mask
                add((index, start, resume))
                continue
            if mode == _ANCHORED:
                # Tried with re.match where the anchor starts, in order.
                if packed >> 32 == previous:
                    continue
                previous = packed >> 32
                at = previous & mask
                if at < resume:
                    continue
                match = pattern.match(text, at)
                if match is None:
                    continue
                resume = match.end() if match.end() > at else at + 1
            else:
                # Searched from end - max_len for each end past the previous match: no match is
                # longer, and an earlier match would have ended earlier and been taken first.
                at = packed & mask
                if at <= resume:
                    continue
                match = pattern.search(text, max(resume, at - max_len))
                if match is None:  # the hyperscan form is a superset (a lookahead became a match)
                    resume = at
                    continue
                resume = match.end() if match.end() > match.start() else match.start() + 1
            v_start, v_end = match.span("v") if group else match.span()
            add((index, v_start, v_end))
        return out


def _to_characters(data: bytes, hits: list[int]) -> list[int]:
    """Packed events with UTF-8 byte offsets as the same with character offsets."""
    mask = 0xFFFFFFFF
    offsets = [(p >> 32) & mask for p in hits] + [p & mask for p in hits]
    char = _char_offsets(data, offsets)
    return [(p >> 64) << 64 | char[(p >> 32) & mask] << 32 | char[p & mask] for p in hits]


def _char_offsets(data: bytes, offsets: list[int]) -> dict[int, int]:
    """Character offsets of byte offsets (each at a character boundary) of UTF-8 ``data``."""
    out: dict[int, int] = {}
    byte_pos = char_pos = 0
    view = memoryview(data)
    for offset in sorted(set(offsets)):
        if offset != byte_pos:
            char_pos += len(str(view[byte_pos:offset], "utf-8"))
            byte_pos = offset
        out[offset] = char_pos
    return out


def make_engine(name: str = "auto") -> Engine:
    """``auto`` picks hyperscan when it is installed, else ``re``."""
    specs = pattern_specs()
    if name == "re" or (name == "auto" and not hyperscan_available()):
        return ReEngine(specs)
    if name in ("hyperscan", "auto"):
        return HyperscanEngine(specs)
    raise EngineUnavailable(f"unknown scan engine {name!r} (auto, hyperscan or re)")
