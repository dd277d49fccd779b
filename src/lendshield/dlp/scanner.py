"""The recognisers: candidates from the engine, checked, scored by context, resolved.

``Scanner.scan(text)`` returns findings as spans of the caller's text. Resolution keeps one
reading per stretch of text: the longer span wins (an e-mail address over the mobile number
that is its local part), and on the same span the stronger type (a valid resident ID over a
bank-card reading of the same 18 digits).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date
from typing import NamedTuple

from lendshield.clock import Clock, SystemClock
from lendshield.dlp import checks
from lendshield.dlp.config import DlpConfig, PiiType, default_config
from lendshield.dlp.engines import Engine, make_engine
from lendshield.dlp.normalize import normalize
from lendshield.dlp.patterns import pattern_specs

# Which reading wins when two types claim the same characters.
PRIORITY: dict[PiiType, int] = {
    "resident_id": 100,
    "uscc": 95,
    "bank_card": 90,
    "mobile": 80,
    "landline": 70,
    "email": 65,
    "passport": 60,
    "licence_plate": 55,
    "ipv6": 50,
    "ipv4": 50,
    "address": 40,
    "person_name": 30,
}
VALIDATORS: dict[PiiType, str] = {
    "resident_id": "GB 11643-1999 MOD 11-2 + birth date",
    "mobile": "mainland number plan (phonenumbers)",
    "bank_card": "ISO/IEC 7812 Luhn + issuer prefix",
    "uscc": "GB 32100-2015 check character",
    "passport": "passport number format",
    "licence_plate": "GA 36 plate format",
    "landline": "fixed-line number plan (phonenumbers)",
    "email": "RFC 5321 address form",
    "ipv4": "RFC 791 dotted quad",
    "ipv6": "RFC 4291 text form",
    "address": "gazetteer + road and door number",
    "person_name": "surname list + context word",
}


class Finding(NamedTuple):
    """One piece of personal data: where it is (in the caller's text), what, and how sure."""

    type: PiiType
    start: int
    end: int
    value: str  # the text as found
    normalized: str  # canonical form: resident ID upper-case, phone E.164, card digits only
    confidence: float
    validator: str
    context: bool  # a context word was near


# (start, start - end, -priority, type, end, normalized) of a candidate that passed its check,
# in normalised offsets: sorted as they are, longer spans first at a start, then stronger types.
_Reading = tuple[int, int, int, PiiType, int, str]


class Scanner:
    """Recognises personal data in text. Build once (the engine compiles its patterns), reuse."""

    def __init__(self, config: DlpConfig | None = None, *, engine: str | Engine = "auto", clock: Clock | None = None) -> None:
        self.config = config or default_config()
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self._today: date = (clock or SystemClock()).now().date()
        checkers = {kind: _checker(kind, self._today) for kind in self.config.types}
        self._checkers = [[(kind, *checkers[kind], -PRIORITY[kind]) for kind in spec.types] for spec in pattern_specs()]
        self._window = self.config.context_window
        self._rules = self.config.types
        self._boosted = {kind: round(min(1.0, rule.base + rule.boost), 3) for kind, rule in self._rules.items()}
        self._context_words = {
            kind: re.compile("|".join(re.escape(w) for w in rule.context), re.IGNORECASE) if rule.context else None
            for kind, rule in self._rules.items()
        }
        # Per type: (a search for its context words in lower-case text, their case-insensitive
        # pattern, base and boosted confidence, validator).
        self._kinds: dict[PiiType, tuple[Callable[[str], re.Match[str] | None] | None, re.Pattern[str] | None, float, float, str]] = {
            kind: (
                re.compile("|".join(re.escape(w.lower()) for w in rule.context)).search if rule.context else None,
                self._context_words[kind],
                rule.base,
                self._boosted[kind],
                VALIDATORS[kind],
            )
            for kind, rule in self._rules.items()
        }

    def scan(self, text: str, *, context: str = "") -> list[Finding]:
        """Findings in ``text``; ``context`` is extra text (a column header, a JSON key) whose
        context words count as near every value."""
        return self.scan_cells([text], [context])[0] if context else self._scan(text, None)

    def scan_cells(self, cells: Sequence[str], contexts: Sequence[str] | None = None) -> list[list[Finding]]:
        """Scan many short texts (CSV cells, JSON strings) in one pass; findings per cell."""
        joined = "\n".join(cells)
        out: list[list[Finding]] = [[] for _ in cells]
        if not joined:
            return out
        starts: list[int] = []
        pos = 0
        for cell in cells:
            starts.append(pos)
            pos += len(cell) + 1
        cell_context = list(contexts) if contexts is not None else None
        for f in self._scan(joined, (starts, cell_context)):
            i = bisect_right(starts, f.start) - 1
            base = starts[i]
            out[i].append(Finding(f.type, f.start - base, f.end - base, f.value, f.normalized, f.confidence, f.validator, f.context))
        return out

    def _scan(self, text: str, cells: tuple[list[int], list[str] | None] | None) -> list[Finding]:
        norm = normalize(text)
        # A sentinel newline lets patterns that look at the next character end at the text's end.
        subject = norm.text + "\n"
        readings = self._readings(subject, len(norm.text), None if norm.utf8 is None else norm.utf8 + b"\n")
        if not readings:
            return []
        findings: list[Finding] = []
        add = findings.append
        window = self._window
        minimum = self.config.min_confidence
        identity = norm.identity
        to_original = norm.to_original
        kinds = self._kinds
        headers = cells[1] if cells is not None else None
        make = tuple.__new__  # Finding(...) without the named tuple's Python-level __new__
        for r_start, _, _, kind, r_end, normalized in readings:
            words, pattern, base, boosted, validator = kinds[kind]
            # A context word wholly inside the window before the value. The window is lower-cased
            # and searched for the (lower-case) words: what the case-insensitive pattern finds,
            # except next to a dotted or dotless i, which only the pattern matches like an i.
            near = subject[r_start - window if r_start > window else 0 : r_start]
            if not near.isascii() and ("\u0130" in near or "\u0131" in near):
                found = pattern is not None and pattern.search(subject, max(0, r_start - window), r_start) is not None
            else:
                found = words is not None and words(near.lower()) is not None
            if not found and headers is not None:
                assert cells is not None
                header = headers[bisect_right(cells[0], r_start) - 1]
                found = bool(header) and pattern is not None and pattern.search(header) is not None
            confidence = boosted if found else base
            if confidence < minimum:
                continue
            if identity:
                start, end = r_start, r_end
            else:
                start, end = to_original(r_start), to_original(r_end, end=True)
            add(make(Finding, (kind, start, end, text[start:end], normalized, confidence, validator, found)))
        return findings

    def _readings(self, text: str, limit: int, utf8: bytes | None) -> list[_Reading]:
        checkers = self._checkers
        readings: list[_Reading] = []
        append = readings.append
        for index, start, end in self.engine.candidates(text, utf8):
            if end > limit:
                continue
            value = text[start:end]
            for kind, check, around, rank in checkers[index]:
                normalized = check(value) if check is not None else around(value, text, start, end)
                if normalized is not None:
                    append((start, start - end, rank, kind, end, normalized))
                    break
        return _resolve(readings)


Check = Callable[[str, str, int, int], "str | None"]


def _checker(kind: PiiType, today: date) -> tuple[Callable[[str], str | None] | None, Check]:
    """The check of one type: ``value -> canonical value or None``, or, for the types that look
    at the characters around the value, ``(value, text, start, end) -> ...``."""
    simple = _SIMPLE_CHECKS.get(kind)
    if simple is not None:
        return simple, _unused
    if kind == "resident_id":
        return lambda value: checks.resident_id(value, today), _unused
    if kind in ("ipv4", "ipv6"):
        near = checks.ipv4 if kind == "ipv4" else checks.ipv6

        def with_neighbours(value: str, text: str, start: int, end: int) -> str | None:
            return near(value, text[start - 1] if start > 0 else "", text[end] if end < len(text) else "")

        return None, with_neighbours
    if kind == "passport":
        return str.upper, _unused
    return str, _unused  # address, person_name: the pattern is the check (str() of a str is itself)


def _unused(_value: str, _text: str, _start: int, _end: int) -> str | None:
    raise AssertionError("the one-argument check is used")  # pragma: no cover


_SIMPLE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "mobile": checks.mobile,
    "bank_card": checks.bank_card,
    "uscc": checks.uscc,
    "landline": checks.landline,
    "email": checks.email,
    "licence_plate": checks.licence_plate,
}


def _resolve(readings: list[_Reading]) -> list[_Reading]:
    """One reading per stretch of text: longer span first, then the stronger type."""
    if len(readings) < 2:
        return readings
    readings.sort()
    kept: list[_Reading] = []
    for r in readings:
        if kept and r[0] < kept[-1][4]:
            last = kept[-1]
            if (r[4] - r[0], -r[2]) > (last[4] - last[0], -last[2]):
                kept[-1] = r
            continue
        kept.append(r)
    return kept


_default: Scanner | None = None


def scan_text(text: str, *, context: str = "") -> list[Finding]:
    """Personal data in ``text`` with the shipped rules and the fastest engine available."""
    global _default  # noqa: PLW0603 - one compiled scanner per process, built on first use
    if _default is None:
        _default = Scanner()
    return _default.scan(text, context=context)
