"""The service's own scrubber: log records and error responses never carry personal data.

Two nets, both on the NFKC form so full-width or spaced digits do not slip through:
broad patterns that hide anything shaped like an ID, card or phone number whether or not its
checksum holds (a mistyped ID in an error message is still someone's ID), and the scanner at
its lowest threshold for the rest (e-mail addresses, names after context words, addresses, IPs).
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache

from lendshield.dlp.normalize import normalize
from lendshield.dlp.scanner import Finding, Scanner

REDACTED = "[REDACTED]"
_BROAD = re.compile(
    "|".join(
        (
            r"(?<![0-9A-Za-z])\d(?:[ -]?\d){13,18}[\dXx]?(?![0-9A-Za-z])",  # resident IDs, cards, IMEIs
            r"(?<![0-9A-Za-z])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z])",  # mainland mobiles
            r"lsk_[0-9a-f]{1,24}\.[A-Za-z0-9_-]+",  # our API tokens
        )
    ),
    re.ASCII,
)
_MAY_HOLD_DATA = re.compile(r"[0-9@]|lsk_")


@cache
def _scanner() -> Scanner:
    from lendshield.dlp.config import default_config

    # The re engine: no native database to compile, and log lines are short.
    return Scanner(default_config().model_copy(update={"min_confidence": 0.0}), engine="re")


def _about_a_person(finding: Finding) -> bool:
    """False for the machine's own addresses (loopback, unspecified): no one's data, and hiding
    them would hide where the service listens (``Uvicorn running on http://127.0.0.1:8000``)."""
    if finding.type not in ("ipv4", "ipv6"):
        return True
    try:
        address = ipaddress.ip_address(finding.normalized or finding.value)
    except ValueError:
        return True
    return not (address.is_loopback or address.is_unspecified)


def scrub_text(text: str) -> str:
    """``text`` with anything that may be personal data replaced by ``[REDACTED]``."""
    if not text or (text.isascii() and _MAY_HOLD_DATA.search(text) is None):
        return text  # plain ASCII without digits, @ or a token prefix: nothing to find
    norm = normalize(text)
    spans = [(norm.to_original(m.start()), norm.to_original(m.end(), end=True)) for m in _BROAD.finditer(norm.text)]
    spans.extend((f.start, f.end) for f in _scanner().scan(text) if _about_a_person(f))
    if not spans:
        return text
    spans.sort()
    out: list[str] = []
    pos = 0
    for start, end in spans:
        if end <= pos:
            continue
        out.append(text[pos : max(start, pos)])
        out.append(REDACTED)
        pos = end
    out.append(text[pos:])
    return "".join(out)
