"""Ledger entries: canonical JSON (RFC 8785) with no personal data in clear."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785


def rfc3339(when: datetime) -> str:
    utc = when.astimezone(UTC)
    if utc.year >= 1000:
        # Same characters as the strftime below (isoformat pads the year to 4 digits, strftime
        # does not on every platform), at a fraction of the cost: every ledger entry has a time.
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_MAX_EXACT_INT = 2**53


def _plain(obj: Any) -> bool:
    """True when ``json.dumps`` with sorted keys produces exactly RFC 8785's bytes for ``obj``:
    no floats, integers within IEEE-754's exact range, and ASCII object keys (RFC 8785 sorts by
    UTF-16 code units, Python by code points; the two agree on ASCII).

    A loop over a stack rather than recursion: every ledger entry's details pass through here."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, bool | str):
            continue
        if isinstance(item, int):
            if not -_MAX_EXACT_INT < item < _MAX_EXACT_INT:
                return False
        elif isinstance(item, dict):
            for key, value in item.items():
                if not (isinstance(key, str) and key.isascii()):
                    return False
                if type(value) is not str:
                    stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(v for v in item if type(v) is not str)
        else:
            return False
    return True


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON. Entries are plain (strings, small integers, ASCII keys), for which
    the standard library's sorted, compact, non-ASCII-preserving output is byte-identical and much
    faster; anything else goes through the full RFC 8785 implementation."""
    if _plain(obj):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return rfc8785.dumps(obj)


def digest_of(obj: Any) -> str:
    """Hex SHA-256 of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical(obj)).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """What happened. ``subject_ref`` is a keyed hash (see ``ledger.refs``), never a subject id.

    ``details`` is kept beside the entry; only its digest is part of the logged leaf, so it may
    be shown to whom it concerns while the tree stays publishable. Never put personal data in it.
    """

    time: datetime
    actor: str
    action: str
    object: str = ""
    subject_ref: str | None = None
    purpose: str | None = None
    decision: str | None = None
    rule_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def body(self, seq: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "v": 1,
            "seq": seq,
            "time": rfc3339(self.time),
            "actor": self.actor,
            "action": self.action,
            "object": self.object,
        }
        for key in ("subject_ref", "purpose", "decision", "rule_id", "reason"):
            value = getattr(self, key)
            if value is not None:
                body[key] = value
        if self.details:
            body["details_digest"] = digest_of(self.details)
        return body


def canonical_body(body: dict[str, Any]) -> bytes:
    """Canonical bytes of an entry body built by ``Entry.body``: ASCII keys, string values and a
    sequence number below 2**53 by construction, so the plain check can be skipped."""
    if not 0 <= body["seq"] < _MAX_EXACT_INT:
        return rfc8785.dumps(body)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(body_bytes: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH of one entry is SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + body_bytes).digest()
