"""NFKC normalisation that remembers where each normalised character came from.

Findings are reported as spans of the text the caller gave us, while recognisers run on the
NFKC form (full-width digits ``１３８`` become ``138``, ``：`` becomes ``:``). Almost every
character normalises to exactly one character, which keeps offsets unchanged; only characters
that expand (``㈠`` -> ``(一)``), combining marks and conjoining Hangul jamo (which compose
with their neighbours) need a map, and only their pieces pay for it.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import cache


def _is_unsafe(cp: int) -> bool:
    ch = chr(cp)
    mapped = unicodedata.normalize("NFKC", ch)
    if len(mapped) != 1:
        return True  # expands (or, in principle, vanishes)
    # Combines with a neighbour: a mark, a character that becomes one (half-width voiced
    # marks), or a conjoining Hangul jamo.
    return (
        unicodedata.category(ch).startswith("M")
        or unicodedata.category(mapped).startswith("M")
        or 0x1160 <= cp <= 0x11FF
        or 0xD7B0 <= cp <= 0xD7FF
    )


def _joins_previous(ch: str) -> bool:
    mapped = unicodedata.normalize("NFKC", ch)
    return unicodedata.category(ch).startswith("M") or unicodedata.category(mapped[:1] or ch).startswith("M") or 0x1160 <= ord(ch) <= 0x11FF


def _char_class(ranges: list[tuple[int, int]], *, negate: bool = False) -> str:
    body = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
    return f"[{'^' if negate else ''}{body}]"


@cache
def _unsafe_tables() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(exact, quick): characters that do not normalise one-to-one, and a cheap superset.

    The exact class has thousands of ranges and costs ~0.2 us a character to search; the quick
    one is the complement of the long safe stretches (ASCII, CJK ideographs, full-width forms ...)
    and costs a tenth of that, so most text never meets the exact one.
    """
    ranges: list[tuple[int, int]] = []
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF or not _is_unsafe(cp):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    safe: list[tuple[int, int]] = []
    previous_end = -1
    for a, b in ranges:
        if a - previous_end - 1 >= 32:
            safe.append((previous_end + 1, a - 1))
        previous_end = b
    safe.append((previous_end + 1, sys.maxunicode))
    return re.compile(_char_class(ranges) + "+"), re.compile(_char_class(safe, negate=True))


def _unsafe_chars() -> re.Pattern[str]:
    return _unsafe_tables()[0]


@dataclass(frozen=True, slots=True)
class Normalized:
    """``text`` is the NFKC form; ``original`` the input. Offsets map back with ``to_original``."""

    text: str
    original: str
    # Sorted starts (in ``text``) of pieces that did not normalise one-to-one, with the
    # original span of each piece; between them offsets shift by a constant.
    _norm_starts: tuple[int, ...] = ()
    _pieces: tuple[tuple[int, int, int], ...] = ()  # (norm_end, orig_start, orig_end)
    utf8: bytes | None = None  # ``text`` encoded as UTF-8, when a caller has it (the engine encodes otherwise)

    @property
    def identity(self) -> bool:
        """Offsets are the same in both texts."""
        return not self._norm_starts

    def to_original(self, offset: int, *, end: bool = False) -> int:
        """The original offset of a normalised one; inside an expanded piece, its start (or end)."""
        if not self._norm_starts:
            return offset
        i = bisect_right(self._norm_starts, offset) - 1
        if i < 0:
            return offset
        norm_start = self._norm_starts[i]
        norm_end, orig_start, orig_end = self._pieces[i]
        if offset == norm_start and not end:
            return orig_start
        if offset < norm_end or (offset == norm_end and end and offset > norm_start):
            return orig_end if end else orig_start
        return orig_end + (offset - norm_end)


# Full-width ASCII forms (U+FF01-FF5E) and the ideographic space: NFKC maps each to one ASCII
# character, and they are most of what Chinese text changes under NFKC. In UTF-16-BE a full-width
# form is the byte FF and a byte 01-5E, which a regular expression with a literal first byte finds
# at memchr speed; each form present is then replaced throughout with str.replace. A match may
# straddle two characters (U+xxFF, then one whose first byte is 01-5E): it names a form that is
# then simply not found. unicodedata.normalize over the whole text is several times slower.
_FULL_WIDTH_UTF16BE = re.compile(rb"\xff[\x01-\x5e]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _map_full_width(text: str) -> str:
    """The text with full-width forms and the ideographic space mapped to ASCII."""
    try:
        data = text.encode("utf-16-be")
    except UnicodeEncodeError:
        # Lone surrogates (only a program can make them) are not text: one U+FFFD each.
        text = _SURROGATE.sub("\ufffd", text)
        data = text.encode("utf-16-be")
    rare: list[int] = []
    for form, count in Counter(_FULL_WIDTH_UTF16BE.findall(data)).items():
        if count * _RARE > len(text):
            # Frequent (full-width commas, colons): replaced throughout.
            text = text.replace(chr(0xFF00 | form[1]), chr(form[1] + 0x20))
        else:
            rare.append(form[1])
    if rare:
        # Rare (full-width digits of one ID): found in one pass, put in place one by one.
        forms = re.compile(b"\\xff[" + b"".join(b"\\x%02x" % f for f in sorted(rare)) + b"]")
        rare = [m.start() >> 1 for m in forms.finditer(data) if not m.start() & 1]
    if rare:
        parts: list[str] = []
        last = 0
        for at in rare:
            parts.append(text[last:at])
            parts.append(chr(ord(text[at]) - 0xFEE0))
            last = at + 1
        parts.append(text[last:])
        text = "".join(parts)
    return text.replace("\u3000", " ")


# A form found at most once in this many characters is put in place one by one (under a
# microsecond each), a more frequent one is replaced throughout (about a millisecond a million
# characters).
_RARE = 800


def normalize(text: str) -> Normalized:
    """NFKC-normalise ``text`` keeping a map of offsets back to it."""
    if text.isascii():
        return Normalized(text, text)
    original = text
    text = _map_full_width(text)  # one character for one: offsets unchanged
    if unicodedata.is_normalized("NFKC", text):
        return Normalized(text, original)
    simple = unicodedata.normalize("NFKC", text)
    unsafe, quick = _unsafe_tables()
    if len(simple) == len(text) and (quick.search(text) is None or unsafe.search(text) is None):
        return Normalized(simple, original)
    parts: list[str] = []
    starts: list[int] = []
    pieces: list[tuple[int, int, int]] = []
    pos = 0
    out_len = 0
    for match in unsafe.finditer(text):
        a, b = match.span()
        # A combining mark belongs to the character before it (its starter).
        if a > pos and _joins_previous(text[a]):
            a = max(a - 1, pos)
        if a > pos:
            plain = unicodedata.normalize("NFKC", text[pos:a])
            parts.append(plain)
            out_len += len(plain)
        piece = unicodedata.normalize("NFKC", text[a:b])
        starts.append(out_len)
        pieces.append((out_len + len(piece), a, b))
        parts.append(piece)
        out_len += len(piece)
        pos = b
    if pos < len(text):
        parts.append(unicodedata.normalize("NFKC", text[pos:]))
    return Normalized("".join(parts), original, tuple(starts), tuple(pieces))
